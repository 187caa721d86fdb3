import { emailTransport } from './email';
import { fedexTransport } from '../carriers/fedex/client';
import { httpsTransport } from './https';
import { outboxTransport } from './outbox';
import { sftpTransport } from './sftp';
import { upsTransport } from '../carriers/ups/client';
import type { TransportKind } from './transport';

const KINDS = new Map<string, TransportKind>();

/** Adds a transport kind to the registry (each transport's kind, a file or a folder, is registered here). */
export function registerTransportKind<O>(kind: TransportKind<O>): void {
  KINDS.set(kind.kind, kind as TransportKind);
}

export function transportKind(kind: string): TransportKind | undefined {
  return KINDS.get(kind);
}

export function transportKinds(): string[] {
  return [...KINDS.keys()].sort();
}

registerTransportKind(sftpTransport);
registerTransportKind(emailTransport);
registerTransportKind(httpsTransport);
registerTransportKind(outboxTransport);
registerTransportKind(upsTransport);
registerTransportKind(fedexTransport);
