/**
 * The ingress's HTTPS and OIDC flags (`kafka-broker ingress`), kept apart from the admin API's and
 * Kafka's. `kafka-broker start` reads the same settings from INGRESS_TLS, INGRESS_PLAIN_HTTP and
 * INGRESS_OIDC (bin/settings.ts).
 */
import type { IngressConfig } from '../broker-ingress/config.js';
import { CliError } from './cli.js';
import { parsePort, stringFlag, type FlagValues } from './options.js';

export const INGRESS_SECURITY_FLAGS = {
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'https-port': { type: 'string' },
  'no-plain-http': { type: 'boolean' },
  'oidc-issuer': { type: 'string' },
  'oidc-discovery-url': { type: 'string' },
  'oidc-ca': { type: 'string' },
  'oidc-token-file': { type: 'string' },
} as const;

export const INGRESS_SECURITY_USAGE = `      --tls-cert <file>      serve HTTPS with this PEM certificate (reloaded when the file changes)
      --tls-key <file>       and this PEM private key
      --https-port <port>    HTTPS port (default 8443)
      --no-plain-http        serve HTTPS only
      --oidc-issuer <url>    authenticate senders: tokens must come from this issuer, e.g.
                             https://kubernetes.default.svc.cluster.local
      --oidc-discovery-url <url>  where its discovery document is (default <issuer>/.well-known/openid-configuration)
      --oidc-ca <file>       CA trusted for the discovery document and JWKS
      --oidc-token-file <file>  bearer token sent when reading them (the pod's service-account token)
`;

/** The TLS and OIDC part of the ingress's configuration, from the flags; one-line errors. */
export function ingressSecurityOf(values: FlagValues): Pick<IngressConfig, 'plainHttp'> & Partial<Pick<IngressConfig, 'tls' | 'oidc'>> {
  const certFile = stringFlag(values, 'tls-cert');
  const keyFile = stringFlag(values, 'tls-key');
  if ((certFile === undefined) !== (keyFile === undefined)) throw new CliError('give both --tls-cert and --tls-key, or neither');
  const plainHttp = values['no-plain-http'] !== true;
  if (!plainHttp && certFile === undefined) throw new CliError('--no-plain-http needs --tls-cert and --tls-key');
  const httpsPort = stringFlag(values, 'https-port');
  if (httpsPort !== undefined && certFile === undefined) throw new CliError('--https-port needs --tls-cert and --tls-key');
  const issuer = stringFlag(values, 'oidc-issuer');
  const oidcOnly = ['oidc-discovery-url', 'oidc-ca', 'oidc-token-file'].find((flag) => stringFlag(values, flag) !== undefined);
  if (issuer === undefined && oidcOnly !== undefined) throw new CliError(`--${oidcOnly} needs --oidc-issuer`);
  if (issuer !== undefined && !/^https?:\/\/\S+$/.test(issuer)) throw new CliError(`--oidc-issuer must be an http(s) URL, got "${issuer}"`);
  const discoveryUrl = stringFlag(values, 'oidc-discovery-url');
  const caFile = stringFlag(values, 'oidc-ca');
  const tokenFile = stringFlag(values, 'oidc-token-file');
  return {
    plainHttp,
    ...(certFile === undefined || keyFile === undefined ? {} : { tls: { certFile, keyFile, port: parsePort('--https-port', httpsPort, 8443) } }),
    ...(issuer === undefined
      ? {}
      : { oidc: { issuer, ...(discoveryUrl === undefined ? {} : { discoveryUrl }), ...(caFile === undefined ? {} : { caFile }), ...(tokenFile === undefined ? {} : { tokenFile }) } }),
  };
}
