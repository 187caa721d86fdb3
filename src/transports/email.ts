import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import nodemailer from 'nodemailer';
import addressparser from 'nodemailer/lib/addressparser';
import { isPermanentResponseCode } from 'nodemailer/lib/errors';
import { z } from 'zod';
import { envVarName, positiveDuration } from '../config/option-schemas';
import { buildPgpMimeMessage, loadStoreSigningKey, recipientKeyLoader } from './pgp';
import {
  DeliveryError,
  redactSecrets,
  type DeliveryPayload,
  type DeliveryReceipt,
  type Transport,
  type TransportContext,
  type TransportKind,
} from './transport';

const PLACEHOLDERS = new Set(['orderId', 'supplierId']);

/** The bare address of a mailbox (`Name <a@b>` or `a@b`), or undefined when it is not exactly one. */
function mailboxAddress(value: string): string | undefined {
  const parsed = addressparser(value);
  const first = parsed[0];
  if (parsed.length !== 1 || first === undefined || !('address' in first) || first.address === undefined) return undefined;
  return z.email().safeParse(first.address).success ? first.address : undefined;
}

const mailbox = (what: string) =>
  z.string().refine((value) => mailboxAddress(value) !== undefined, { error: `${what} must be one e-mail address ("a@b.example" or "Name <a@b.example>")` });

/** SMTP server settings of an email supplier (`delivery.smtp`). */
const smtpSchema = z
  .object({
    /** SMTP server host name. */
    host: z.string().min(1, { error: 'smtp.host is required' }),
    /**
     * SMTP port.
     * @defaultValue 465 with `secure`, 587 with `requireTLS`
     */
    port: z.number().int().min(1).max(65535, { error: 'smtp.port must be 1-65535' }).optional(),
    /** Implicit TLS from the first byte (usually port 465). */
    secure: z.boolean().optional(),
    /** Plain connection upgraded with STARTTLS, refusing servers that do not offer it (usually 587). */
    requireTLS: z.boolean().optional(),
    /** PEM file of the CA that issued the server's certificate (relative to the config directory). */
    caFile: z.string().min(1).optional(),
    /** Name of the environment variable holding the SMTP user name. */
    userEnv: envVarName('smtp.userEnv').optional(),
    /** Name of the environment variable holding the SMTP password. */
    passwordEnv: envVarName('smtp.passwordEnv').optional(),
    /**
     * Pooled SMTP connections per supplier.
     * @defaultValue 2
     */
    maxConnections: z.number().int().min(1).max(10).default(2),
    /**
     * Time allowed to connect, greet and upgrade to TLS, and for each reply.
     * @defaultValue 30s
     */
    timeout: positiveDuration('smtp.timeout').default(30_000),
  })
  .strict()
  .superRefine((smtp, ctx) => {
    if (smtp.secure === true && smtp.requireTLS === true) {
      ctx.addIssue({ code: 'custom', path: ['requireTLS'], message: 'choose one: secure (implicit TLS) or requireTLS (STARTTLS), not both' });
    } else if (smtp.secure !== true && smtp.requireTLS !== true) {
      ctx.addIssue({
        code: 'custom',
        path: ['secure'],
        message: 'mail must travel encrypted: set secure: true (implicit TLS) or requireTLS: true (STARTTLS)',
      });
    }
    if ((smtp.userEnv === undefined) !== (smtp.passwordEnv === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['userEnv'], message: 'smtp.userEnv and smtp.passwordEnv go together' });
    }
  });

/** `delivery` options of an email supplier (without `transport: email`). */
export const emailOptionsSchema = z
  .object({
    /** The supplier's order inbox; one address or a list. */
    to: z.union([mailbox('to'), z.array(mailbox('to')).min(1)]),
    /** The store's sending address (`Name <address>` allowed). */
    from: mailbox('from'),
    /**
     * Subject template; `{orderId}` and `{supplierId}` are filled in. It travels unencrypted, so
     * it may name the order but never the customer.
     * @defaultValue "Purchase order {orderId}"
     */
    subject: z
      .string()
      .min(1)
      .refine((s) => [...s.matchAll(/\{([^}]*)\}/g)].every((m) => PLACEHOLDERS.has(m[1] ?? '')), {
        error: 'subject may only use the placeholders {orderId} and {supplierId}',
      })
      .default('Purchase order {orderId}'),
    /**
     * Subject of a cancellation (same placeholders and rules as `subject`).
     * @defaultValue "Cancellation of purchase order {orderId}"
     */
    cancelSubject: z
      .string()
      .min(1)
      .refine((s) => [...s.matchAll(/\{([^}]*)\}/g)].every((m) => PLACEHOLDERS.has(m[1] ?? '')), {
        error: 'cancelSubject may only use the placeholders {orderId} and {supplierId}',
      })
      .default('Cancellation of purchase order {orderId}'),
    smtp: smtpSchema,
  })
  .strict();

/** Validated email options (durations in milliseconds). */
export type EmailOptions = z.output<typeof emailOptionsSchema>;

function renderSubject(template: string, payload: DeliveryPayload): string {
  return template.replace(/\{(orderId|supplierId)\}/g, (_, name: string) => (name === 'orderId' ? payload.orderId : payload.recipient));
}

/** The Message-ID for a delivery: stable across retries, so a receiver can drop duplicates. */
function messageIdFor(deliveryId: string, fromAddress: string | undefined): string {
  const domain = (fromAddress ?? 'dropship.invalid').split('@')[1] ?? 'dropship.invalid';
  return `${deliveryId.replace(/[^A-Za-z0-9._-]/g, '_')}@${domain}`;
}

interface SmtpFailure {
  message: string;
  code?: string;
  responseCode?: number;
  command?: string;
  response?: string;
  originalCode?: string;
}

const TLS_REASONS = /certificate|self[- ]signed|CERT_|ALTNAME|unable to verify|wrong version number|SSL|TLS/i;

class EmailTransport implements Transport {
  readonly kind = 'email';
  readonly instanceId: string;
  private readonly mailer: ReturnType<typeof nodemailer.createTransport>;
  private readonly where: string;
  private readonly to: string[];
  /** The address of `from`, parsed once (parsing and checking it costs more than building the headers). */
  private readonly fromAddress: string | undefined;
  /** The SMTP login: a server's reply may name it (Postfix: "not owned by user ..."). */
  private readonly credentials: string[] = [];
  private readonly pgpKey = recipientKeyLoader(
    () => this.context.pgpPublicKey,
    () => this.keyLabel(),
  );
  private closed = false;

  constructor(
    private readonly options: EmailOptions,
    private readonly context: TransportContext,
  ) {
    this.instanceId = context.instanceId;
    if (context.pgpPublicKey === undefined) {
      throw DeliveryError.permanent('ECONFIG', `email ${context.instanceId}: email deliveries need pgp.publicKeyFile (mail is only sent PGP-encrypted)`);
    }
    if (context.env.STORE_PGP_KEY_FILE === undefined || context.env.STORE_PGP_KEY_FILE === '') {
      throw DeliveryError.permanent('ECONFIG', `email ${context.instanceId}: STORE_PGP_KEY_FILE is not set; email deliveries are signed with the store key`);
    }
    const { smtp } = options;
    const port = smtp.port ?? (smtp.secure === true ? 465 : 587);
    this.where = `${smtp.host}:${port}`;
    this.to = (typeof options.to === 'string' ? [options.to] : options.to).map((t) => mailboxAddress(t) as string);
    this.fromAddress = mailboxAddress(options.from);

    let ca: string | undefined;
    if (smtp.caFile !== undefined) {
      const file = resolve(context.configDir, smtp.caFile);
      try {
        ca = readFileSync(file, 'utf8');
      } catch (error) {
        throw DeliveryError.permanent('ECONFIG', `email ${context.instanceId}: smtp.caFile ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
    let auth: { user: string; pass: string } | undefined;
    if (smtp.userEnv !== undefined && smtp.passwordEnv !== undefined) {
      const user = context.env[smtp.userEnv];
      const pass = context.env[smtp.passwordEnv];
      for (const [name, value] of [[smtp.userEnv, user], [smtp.passwordEnv, pass]] as const) {
        if (value === undefined || value === '') {
          throw DeliveryError.permanent('ECONFIG', `email ${context.instanceId}: environment variable ${name} is not set`);
        }
      }
      auth = { user: user as string, pass: pass as string };
      this.credentials.push(auth.pass, auth.user);
    }

    this.mailer = nodemailer.createTransport({
      pool: true,
      maxConnections: smtp.maxConnections,
      maxMessages: 100,
      host: smtp.host,
      port,
      secure: smtp.secure === true,
      requireTLS: smtp.requireTLS === true,
      tls: {
        minVersion: 'TLSv1.2',
        rejectUnauthorized: true,
        ...(ca === undefined ? {} : { ca }),
      },
      ...(auth === undefined ? {} : { auth }),
      connectionTimeout: smtp.timeout,
      greetingTimeout: smtp.timeout,
      socketTimeout: smtp.timeout,
      disableFileAccess: true,
      disableUrlAccess: true,
      logger: false,
    });
  }

  async deliver(payload: DeliveryPayload, signal?: AbortSignal): Promise<DeliveryReceipt> {
    if (this.closed) throw DeliveryError.retryable('ECONNECTION', 'the email transport has been closed');
    const [recipient, signingKey] = await Promise.all([this.pgpKey(), loadStoreSigningKey(this.context.env)]);
    const { raw, messageId } = await buildPgpMimeMessage(
      {
        from: this.options.from,
        to: this.to.join(', '),
        subject: renderSubject(payload.purpose === 'cancellation' ? this.options.cancelSubject : this.options.subject, payload),
        text: `Purchase order ${payload.orderId} is attached as ${payload.filename}.\r\n`,
        attachment: { filename: payload.filename, contentType: payload.contentType, content: payload.body },
        messageId: messageIdFor(payload.deliveryId, this.fromAddress),
      },
      recipient,
      this.keyLabel(),
      signingKey,
    );
    try {
      const info = await this.mailer.sendMail({
        envelope: { from: this.fromAddress as string, to: this.to },
        raw,
        ...(signal === undefined ? {} : { signal }),
      });
      return {
        location: messageId,
        response: { messageId, accepted: info.accepted.map(String).join(', '), smtpResponse: this.withoutCredentials(String(info.response)).slice(0, 200) },
      };
    } catch (error) {
      throw this.classify(error as SmtpFailure);
    }
  }

  async verify(): Promise<void> {
    if (this.closed) throw DeliveryError.retryable('ECONNECTION', 'the email transport has been closed');
    await Promise.all([this.pgpKey(), loadStoreSigningKey(this.context.env)]);
    try {
      await this.mailer.verify();
    } catch (error) {
      throw this.classify(error as SmtpFailure);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.mailer.close();
  }

  private keyLabel(): string {
    return `of ${this.instanceId} (pgp.publicKeyFile)`;
  }


  /** `text` without the SMTP login in it (values of under four characters would garble it instead). */
  private withoutCredentials(text: string): string {
    return redactSecrets(text, this.credentials, 4);
  }

  /** Maps nodemailer's codes and SMTP replies to the retry decision; never quotes credentials. */
  private classify(error: SmtpFailure): DeliveryError {
    if (error instanceof DeliveryError) return error;
    const reply = error.response === undefined ? '' : `: ${this.withoutCredentials(error.response.replace(/\s+/g, ' ')).slice(0, 200)}`;
    const code = error.code ?? '';
    if (code === 'EAUTH' || code === 'ENOAUTH') {
      return DeliveryError.permanent('EAUTH', `SMTP login at ${this.where} was refused${error.responseCode === undefined ? '' : ` (${error.responseCode})`}`);
    }
    if (code === 'ETLS' || code === 'EREQUIRETLS') {
      const reason = TLS_REASONS.test(error.message) ? ` (${error.message.replace(/^Error initiating TLS - /, '').slice(0, 120)})` : ' (STARTTLS not offered or refused)';
      return DeliveryError.permanent('ETLS', `SMTP server ${this.where} gave no verified TLS connection${reason}`);
    }
    if (error.responseCode !== undefined) {
      const what = `SMTP server ${this.where} answered ${error.responseCode}${error.command === undefined ? '' : ` to ${error.command}`}${reply}`;
      return isPermanentResponseCode(error.responseCode)
        ? DeliveryError.permanent('EREJECTED', what)
        : DeliveryError.retryable('EREMOTE', what);
    }
    if (code === 'EABORT') return DeliveryError.retryable('ETIMEDOUT', `sending to ${this.where} was aborted`);
    if (code === 'ETIMEDOUT') return DeliveryError.retryable('ETIMEDOUT', `SMTP connection to ${this.where} timed out`);
    if (code === 'ESOCKET' && TLS_REASONS.test(error.message)) {
      return DeliveryError.permanent('ETLS', `SMTP server ${this.where} gave no verified TLS connection (${error.message.slice(0, 120)})`);
    }
    if (code === 'EENVELOPE') return DeliveryError.permanent('ECONFIG', `SMTP envelope for ${this.instanceId} was refused${reply}`);
    const reason = error.originalCode ?? (code === '' ? 'connection failed' : code);
    return DeliveryError.retryable('ECONNECTION', `SMTP connection to ${this.where} failed (${reason})`);
  }
}

/**
 * Email delivery: PGP/MIME (RFC 3156) encrypted to the supplier key and signed with the store
 * key, the purchase order as an attachment inside the encrypted part, plain text only, sent
 * over pooled SMTP connections with implicit TLS or required STARTTLS (TLS 1.2+, certificate
 * verified).
 */
export const emailTransport: TransportKind<EmailOptions> = {
  kind: 'email',
  optionsSchema: emailOptionsSchema,
  requiresPgp: true,
  create: (options, context) => new EmailTransport(options, context),
};
