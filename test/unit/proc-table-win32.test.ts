import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PROJECT_ROOT } from '../../apps/shared/config.ts';
import { findWine, runUnderWine } from '../helpers/wine-node.ts';

// The Windows backend, live: the process-table contract run by Windows Node under wine (not a real Windows).
const wine = findWine();
const Win32 = suite('win32 backend under wine');

if (typeof wine === 'string') {
  console.log(`  (skipped the Windows process-table contract: ${wine})`);
} else {
  Win32('the contract passes under Windows Node', async () => {
    const { code, output } = await runUnderWine(wine, join(PROJECT_ROOT, 'test', 'helpers', 'win32-contract-main.ts'));
    process.stdout.write(output.replace(/^/gm, '    '));
    assert.is(code, 0, `Windows Node exited with ${code}`);
    assert.match(output, /Passed:\s+\S*\d+/);
    assert.not.match(output, /FAIL|Skipped:\s+\S*[1-9]/);
  });
}

Win32.run();
