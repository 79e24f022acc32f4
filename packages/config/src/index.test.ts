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
