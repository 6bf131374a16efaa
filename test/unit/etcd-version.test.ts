import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { etcdLeaseWarning } from '../../apps/clock/etcd-version.ts';

test('etcd releases with etcd-io/etcd#15247 are named, with the releases that fix it', () => {
  for (const version of ['3.4.23', '3.4.27', '3.5.0', '3.5.10', '3.3.25']) {
    const line = etcdLeaseWarning(version);
    assert.ok(line, `${version} has the flaw`);
    assert.match(line as string, version);
    assert.match(line as string, '3.4.28 and 3.5.11');
  }
});

test('releases with the fix, and versions that cannot be read, say nothing', () => {
  for (const version of ['3.4.28', '3.4.34', '3.5.11', '3.5.17', '3.6.0', '4.0.0', '', 'unknown']) assert.is(etcdLeaseWarning(version), undefined, version);
});

test.run();
