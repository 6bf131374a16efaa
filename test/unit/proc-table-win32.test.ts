import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';
import { windowsAvailability } from '../../scripts/lib/windows-sandbox.ts';
import { runUnderWine } from '../helpers/wine-node.ts';

// The Windows backend, live: the process-table contract run by Windows Node under wine (not a real Windows).
const availability = await windowsAvailability();
const Win32 = suite('win32 backend under wine');

if (!availability.ok) {
  console.log(`  (skipped the Windows process-table contract: ${availability.reason})`);
} else {
  Win32('the contract passes under Windows Node', async () => {
    const { code, output } = await runUnderWine(join(PROJECT_ROOT, 'test', 'helpers', 'win32-contract-main.ts'));
    // Marked as the inner run's: its own Total/Passed lines must not be counted as this suite's (.ci/run sums them).
    process.stdout.write(output.replace(/^/gm, '    wine │ '));
    assert.is(code, 0, `Windows Node exited with ${code}`);
    assert.match(output, /Passed:\s+\S*\d+/);
    assert.not.match(output, /FAIL|Skipped:\s+\S*[1-9]/);
  });
}

Win32.run();
