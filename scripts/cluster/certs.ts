import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * `npm run cluster -- up --tls`: a throwaway CA of the cluster's own (openssl), a server
 * certificate for each host's etcd member (its address as the subject's alternative name) and one
 * client certificate for the clocks. Everything owner-only, inside DIR, gone with `down`.
 */

export interface TlsFiles {
  ca: string;
  clientCert: string;
  clientKey: string;
  serverCert(host: string): string;
  serverKey(host: string): string;
}

export function tlsFiles(dir: string): TlsFiles {
  return {
    ca: join(dir, 'ca.pem'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client-key.pem'),
    serverCert: (host) => join(dir, `${host}.pem`),
    serverKey: (host) => join(dir, `${host}-key.pem`),
  };
}

const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Makes the CA, one server certificate per host (name and address) and the client certificate in `dir`. */
export function makeCertificates(dir: string, hosts: { name: string; ip: string }[]): TlsFiles {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files = tlsFiles(dir);
  const caKey = join(dir, 'ca-key.pem');
  openssl('req', '-x509', ...newKey, '-keyout', caKey, '-out', files.ca, '-days', '2', '-subj', '/CN=estatus test cluster CA');
  const sign = (name: string, cert: string, key: string, extensions: string): void => {
    const csr = join(dir, `${name}.csr`);
    const ext = join(dir, `${name}.ext`);
    writeFileSync(ext, extensions, { mode: 0o600 });
    openssl('req', ...newKey, '-keyout', key, '-out', csr, '-subj', `/CN=${name}`);
    openssl('x509', '-req', '-in', csr, '-CA', files.ca, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext);
  };
  // clientAuth too: etcd's HTTP gateway (/v3/…, what status asks) reaches its own gRPC server with
  // the member's certificate as a client's, and --client-cert-auth refuses it otherwise.
  for (const host of hosts) sign(host.name, files.serverCert(host.name), files.serverKey(host.name), `subjectAltName=IP:${host.ip}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  sign('client', files.clientCert, files.clientKey, 'extendedKeyUsage=clientAuth\n');
  for (const name of readdirSync(dir)) chmodSync(join(dir, name), 0o600);
  return files;
}
