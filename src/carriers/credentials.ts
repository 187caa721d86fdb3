import { isAbsolute, resolve } from 'node:path';
import type { CarrierClientOptions } from './client-options';
import { DeliveryError, type TransportContext } from '../transports/transport';

/**
 * The client ID and secret of a carrier API client, from the environment variables or files
 * its `carriers.<id>` options name (secrets never live in config files). The file reader is
 * handed in by the client, so this module reads nothing by itself.
 */

/** An API client's credentials, read once when the transport is created. */
export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
}

/**
 * Reads the client ID and secret named by the options. Errors name the option, the
 * variable or the file, never a value.
 * @throws DeliveryError `ECONFIG` (permanent)
 */
export function readClientCredentials(
  carrier: string,
  options: CarrierClientOptions,
  context: TransportContext,
  readFile: (path: string) => string,
): ClientCredentials {
  const read = (what: 'client ID' | 'client secret', envKey: string, env: string | undefined, fileKey: string, file: string | undefined): string => {
    const where = `carriers.${carrier}`;
    if (env !== undefined) {
      const value = context.env[env]?.trim();
      if (value === undefined || value === '') {
        throw DeliveryError.permanent('ECONFIG', `${where}.${envKey}: environment variable ${env} (the ${what}) is not set`);
      }
      return value;
    }
    if (file !== undefined) {
      const path = isAbsolute(file) ? file : resolve(context.configDir, file);
      let value: string;
      try {
        value = readFile(path).trim();
      } catch (error) {
        throw DeliveryError.permanent('ECONFIG', `${where}.${fileKey}: ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      }
      if (value === '') throw DeliveryError.permanent('ECONFIG', `${where}.${fileKey}: ${path} is empty`);
      return value;
    }
    throw DeliveryError.permanent('ECONFIG', `${where}: ${envKey} or ${fileKey} is required (the API ${what}; secrets never live in config files)`);
  };
  return {
    clientId: read('client ID', 'clientIdEnv', options.clientIdEnv, 'clientIdFile', options.clientIdFile),
    clientSecret: read('client secret', 'clientSecretEnv', options.clientSecretEnv, 'clientSecretFile', options.clientSecretFile),
  };
}
