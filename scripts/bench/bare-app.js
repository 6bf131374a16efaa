// The floor for recovery figures: the smallest JavaScript app PM2 can run. Its first act is to note
// when it started running code; then it idles like a service.
import { writeFileSync } from 'node:fs';

writeFileSync(`${process.env.BARE_READY_FILE}`, JSON.stringify({ pid: process.pid, readyAt: Date.now() }));
setInterval(() => {}, 1 << 30);
