import { describe, expect, it } from 'vitest';
import { ConfigError, apiEnvSchema, engineEnvSchema, parseConfig, workerEnvSchema } from './index.ts';

describe('parseConfig', () => {
  it('applies defaults', () => {
    const cfg = parseConfig(engineEnvSchema, {});
    expect(cfg.TF_BACKEND).toBe('auto');
    expect(cfg.FACE_DETECTOR).toBe('auto');
    expect(cfg.MAX_IMAGE_PIXELS).toBe(40_000_000);
    expect(cfg.FACEMATCH_THRESHOLD).toBeUndefined();
  });

  it('coerces numbers', () => {
    expect(parseConfig(engineEnvSchema, { FACEMATCH_THRESHOLD: '0.5' }).FACEMATCH_THRESHOLD).toBe(0.5);
  });

  it('lists every bad variable at once', () => {
    let err: unknown;
    try {
      parseConfig(engineEnvSchema, { TF_BACKEND: 'metal', MAX_IMAGE_PIXELS: '-3', FACEMATCH_THRESHOLD: 'abc' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    expect(problems).toContain('TF_BACKEND');
    expect(problems).toContain('MAX_IMAGE_PIXELS');
    expect(problems).toContain('FACEMATCH_THRESHOLD');
  });

  it('turns the dashboard on only for an admin token of 16+ characters; empty means off', () => {
    expect(parseConfig(apiEnvSchema, {}).ADMIN_TOKEN).toBeUndefined();
    expect(parseConfig(apiEnvSchema, { ADMIN_TOKEN: '' }).ADMIN_TOKEN).toBeUndefined();
    expect(parseConfig(apiEnvSchema, { ADMIN_TOKEN: 'a'.repeat(16) }).ADMIN_TOKEN).toBe('a'.repeat(16));
    expect(() => parseConfig(apiEnvSchema, { ADMIN_TOKEN: 'short' })).toThrow(/ADMIN_TOKEN/);
  });

  it('leaves worker metrics off unless METRICS_PORT is set', () => {
    expect(parseConfig(workerEnvSchema, {}).METRICS_PORT).toBeUndefined();
    expect(parseConfig(workerEnvSchema, { METRICS_PORT: '9464', WORKER_SLOT: '2' })).toMatchObject({ METRICS_PORT: 9464, WORKER_SLOT: 2 });
  });
});

describe('webhook ports', () => {
  it('allows 80 and 443 unless told otherwise, in the API and the worker', () => {
    for (const schema of [apiEnvSchema, workerEnvSchema]) {
      expect(parseConfig(schema, {}).WEBHOOK_PORTS).toEqual(new Set([80, 443]));
      expect(parseConfig(schema, { WEBHOOK_PORTS: '' }).WEBHOOK_PORTS).toEqual(new Set([80, 443]));
    }
  });

  it('takes a comma list of ports, or * for any', () => {
    expect(parseConfig(apiEnvSchema, { WEBHOOK_PORTS: '443, 8443' }).WEBHOOK_PORTS).toEqual(new Set([443, 8443]));
    expect(parseConfig(workerEnvSchema, { WEBHOOK_PORTS: '*' }).WEBHOOK_PORTS).toBe('any');
  });

  it.each(['0', '65536', '80,abc', '8.5', ',', '-1', '80;443'])('refuses WEBHOOK_PORTS=%s', (v) => {
    expect(() => parseConfig(apiEnvSchema, { WEBHOOK_PORTS: v })).toThrow(/WEBHOOK_PORTS/);
  });
});

describe('worker metrics', () => {
  it('listen on loopback unless METRICS_HOST says otherwise', () => {
    expect(parseConfig(workerEnvSchema, {}).METRICS_HOST).toBe('127.0.0.1');
    expect(parseConfig(workerEnvSchema, { METRICS_HOST: '0.0.0.0' }).METRICS_HOST).toBe('0.0.0.0');
  });
});
