import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { win32LockAddress } from '../../apps/clock/state-lock-win32.ts';

// The Windows lock's pipe name, a pure function of STATE_DIR: runs on any platform. The lock itself
// runs under Windows Node (wine), where named pipes exist.
const PipeName = suite('win32LockAddress');

PipeName('a named pipe of the project, 16 hex digits of the directory', () => {
  assert.match(win32LockAddress('C:\\estatus\\state'), /^\\\\\.\\pipe\\estatus-clock-[0-9a-f]{16}$/);
});

PipeName('one name however the directory is cased, as Windows paths are case-insensitive', () => {
  assert.is(win32LockAddress('C:\\Users\\Ann\\estatus\\state'), win32LockAddress('c:\\users\\ann\\ESTATUS\\State'));
});

PipeName('a different directory, a different name', () => {
  assert.is.not(win32LockAddress('C:\\estatus\\state'), win32LockAddress('C:\\estatus\\state2'));
  assert.is.not(win32LockAddress('C:\\a\\state'), win32LockAddress('D:\\a\\state'));
});

PipeName('no length limit of its own: a long STATE_DIR gives a name as short as any', () => {
  const long = `C:\\${'deep\\'.repeat(60)}state`;
  assert.ok(long.length > 300);
  assert.is(win32LockAddress(long).length, win32LockAddress('C:\\s').length);
});

PipeName.run();
