import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { LockOwner } from './state-lock.ts';

/**
 * What every state lock shares, whatever carries it (a Unix socket, a named pipe): the owner greets
 * whoever connects with who it is and keeps the connection open until it dies; a waiter reads the
 * greeting and learns of the death from the connection closing.
 */

export type OwnerProbe =
  | { alive: true; owner: LockOwner | undefined; closed: Promise<void>; hangUp(): void }
  | { alive: false; code: string | undefined };

// A frozen owner accepts the connection (the kernel does) but cannot say who it is.
export const IDENTITY_TIMEOUT_MS = 200;

/** A server that greets each connection with `greeting()` and holds it open; `connections` is the live set. */
export function greetingServer(greeting: () => string): { server: Server; connections: Set<Socket> } {
  const connections = new Set<Socket>();
  const server = createServer((socket) => {
    connections.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => connections.delete(socket));
    // Written, not ended: the connection stays open until this process dies, which is the waiter's signal.
    socket.write(greeting());
  });
  return { server, connections };
}

export function listen(server: Server, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(address, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Connects to whoever listens on `address`: alive (and who), or nobody there (and the error's code). */
export function probeOwner(address: string): Promise<OwnerProbe> {
  return new Promise((resolve) => {
    const socket = createConnection(address);
    // 'end' (the holder's side is closed) comes a loop turn before 'close' (ours is): a standby
    // starts taking over on the first of them. 'close' alone covers an error such as ECONNRESET.
    const closed = new Promise<void>((done) => {
      socket.once('end', () => done());
      socket.once('close', () => done());
    });
    let text = '';
    let answered = false;
    const answer = (owner: LockOwner | undefined): void => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      resolve({ alive: true, owner, closed, hangUp: () => socket.destroy() });
    };
    const timer = setTimeout(() => answer(undefined), IDENTITY_TIMEOUT_MS);
    timer.unref();
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text.includes('\n')) answer(parseOwner(text));
    });
    socket.on('end', () => answer(parseOwner(text)));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      resolve({ alive: false, code: error.code });
    });
  });
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const value = JSON.parse(text.split('\n')[0] ?? '') as Partial<LockOwner>;
    if (typeof value.pid !== 'number' || typeof value.startedAt !== 'number') return undefined;
    const owner: LockOwner = { pid: value.pid, startedAt: value.startedAt };
    if (typeof value.socket === 'string') owner.socket = value.socket;
    if (typeof value.bell === 'string') owner.bell = value.bell;
    return owner;
  } catch {
    return undefined;
  }
}
