import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaceMatchError, VerifyResultSchema } from '@facematch/contracts';
import { defaultModelsDir, manifest } from '@facematch/models';
import { FaceEngine, euclidean, type Described, type FaceEmbedding } from './engine.ts';
import { MIRROR_WINDOW } from '@facematch/models/calibration';
import { FIXTURES_DIR, dataUri, exifRotated } from './testing/images.ts';

const photo = (name: string) => readFileSync(join(FIXTURES_DIR, name));
const curie1 = photo('person-a-1.jpg');
const curie2 = photo('person-a-2.jpg');
const collins = photo('person-b-1.jpg');
const coffee = photo('no-face.jpg');
const solvay = photo('group.jpg');

let engine: FaceEngine;
beforeAll(async () => {
  engine = await FaceEngine.create({ backend: 'wasm' });
});

describe('FaceEngine.verify on real photos', () => {
  it('matches two different photographs of the same person', async () => {
    const r = await engine.verify(curie1, curie2);
    expect(VerifyResultSchema.parse(r)).toEqual(r);
    expect(r.verified).toBe(true);
    expect(r.distance).toBeLessThanOrEqual(r.threshold);
    expect(r.model).toMatchObject({ backend: 'wasm', version: `face-api@${manifest.source.version}` });
  });

  it('decides by the default policy, naming it, with the calibrated FMR at the distance', async () => {
    const r = await engine.verify(curie1, curie2);
    const p = engine.policy();
    expect(r).toMatchObject({ decision: 'match', verified: true, policy: p.name, threshold: p.threshold, reviewThreshold: p.reviewUpTo });
    expect(r.fmr).toBe(Math.round(engine.policies!.fmrAt(r.distance) * 1e8) / 1e8);
    const apart = await engine.verify(curie1, collins);
    expect(apart).toMatchObject({ decision: 'no_match', verified: false });
    expect(apart.fmr!).toBeGreaterThan(r.fmr!);
  });

  it('decides by the policy a request names', async () => {
    const r = await engine.verify(curie1, curie2, 'fmr_1e-4');
    expect(r.policy).toBe('fmr_1e-4');
    expect(r.threshold).toBe(engine.policies!.calibration.policies['fmr_1e-4'].threshold);
    expect(r.verified).toBe(r.decision === 'match');
  });

  it('takes a small face in a large photo from the full-resolution pixels', async () => {
    // The portrait, 500 px wide, on a 3200 px canvas: its face under 150 px in the 1024 px working copy.
    const small = await sharp(collins).resize(500).toBuffer();
    const big = await sharp({ create: { width: 3200, height: 2400, channels: 3, background: { r: 90, g: 110, b: 100 } } })
      .composite([{ input: small, left: 2600, top: 900 }])
      .jpeg({ quality: 92 })
      .toBuffer();
    const r = await engine.verify(big, collins);
    expect(r.faces.img1.box.x).toBeGreaterThan(2550);
    expect(r.faces.img1.box.width / (3200 / 1024)).toBeLessThan(150);
    expect(r.decision).toBe('match');
    expect(r.distance).toBeLessThan(0.35);
  });

  it('tells two different people apart', async () => {
    const r = await engine.verify(curie1, collins);
    expect(r.verified).toBe(false);
    expect(r.distance).toBeGreaterThan(r.threshold);
    expect(r.similarity).toBeLessThan(0.5);
  });

  it('accepts data URIs with a wrong label, as the seed client sends them', async () => {
    const png = await sharp(collins).png().toBuffer();
    const r = await engine.verify(dataUri(png, 'image/jpeg'), dataUri(collins));
    expect(r.verified).toBe(true);
    expect(r.distance).toBeLessThan(0.2);
  });

  it('answers NO_FACE, naming the image, for a photo without a face', async () => {
    const err = await engine.verify(collins, coffee).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FaceMatchError);
    expect(err).toMatchObject({ code: 'NO_FACE', image: 'img2', httpStatus: 422, retryable: false });
  });

  it('warns MULTIPLE_FACES and compares the largest face', async () => {
    const r = await engine.verify(solvay, collins);
    expect(r.faces.img1.count).toBeGreaterThan(1);
    expect(r.warnings.map((w) => [w.code, w.image])).toContainEqual(['MULTIPLE_FACES', 'img1']);
    expect(r.verified).toBe(false);
  });

  it('warns FACE_TOO_SMALL when the face has too few pixels', async () => {
    const tiny = await sharp(collins).resize(96).jpeg().toBuffer();
    const r = await engine.verify(collins, tiny);
    expect(r.warnings.map((w) => w.code)).toContain('FACE_TOO_SMALL');
    expect(r.faces.img2.box.width).toBeLessThan(48);
  });

  it('reports boxes in original-image pixels', async () => {
    const big = await sharp(collins).resize(1536).jpeg({ quality: 95 }).toBuffer(); // 3x, beyond the working size
    const r = await engine.verify(collins, big);
    const [a, b] = [r.faces.img1.box, r.faces.img2.box];
    expect(b.x / a.x).toBeCloseTo(3, 0);
    expect(b.width / a.width).toBeCloseTo(3, 0);
    expect(r.verified).toBe(true);
  });

  it('makes the same decision for an EXIF-rotated photo as for the upright one', async () => {
    const upright = await engine.verify(curie1, collins);
    const rotated = await engine.verify(await exifRotated(curie1), collins);
    expect(rotated.verified).toBe(upright.verified);
    expect(rotated.distance).toBeCloseTo(upright.distance, 1);
    const same = await engine.verify(collins, await exifRotated(collins, 8));
    expect(same.verified).toBe(true);
    expect(same.faces.img2.box.width).toBeCloseTo(same.faces.img1.box.width, -1);
  });

  it('finds a face that fills the whole frame', async () => {
    const r0 = await engine.verify(collins, collins);
    const b = r0.faces.img1.box;
    const tight = await sharp(collins)
      .extract({ left: Math.round(b.x + b.width * 0.1), top: Math.round(b.y + b.height * 0.1), width: Math.round(b.width * 0.8), height: Math.round(b.height * 0.85) })
      .jpeg()
      .toBuffer();
    const r = await engine.verify(collins, tight);
    expect(r.verified).toBe(true);
  });
});

describe('the mirror pass near the threshold', () => {
  // Two faces `d` apart, with mirrors that record whether the engine asked for them.
  const at = (d: number) => {
    const asked: string[] = [];
    const face = (name: string, first: number, mirrorFirst: number): Described => {
      const descriptor = new Float32Array(128);
      descriptor[0] = first;
      return {
        descriptor,
        mirrored: async () => {
          asked.push(name);
          const m = new Float32Array(128);
          m[0] = mirrorFirst;
          return m;
        },
      };
    };
    // Mirrors that pull the averages 0.02 closer together than the chips.
    return { a: face('a', 0, 0.02), b: face('b', d, d - 0.02), asked };
  };

  it('asks for the mirrors only inside the window from below the threshold to above the review bound', async () => {
    const { threshold: t, reviewUpTo: r } = engine.policy();
    expect(r).toBeGreaterThan(t);
    const cases: [number, boolean][] = [
      [t - MIRROR_WINDOW.below - 0.001, false],
      [t - MIRROR_WINDOW.below + 0.001, true],
      [t, true],
      [r, true],
      [r + MIRROR_WINDOW.above - 0.001, true],
      [r + MIRROR_WINDOW.above + 0.001, false],
    ];
    for (const [d, inside] of cases) {
      const { a, b, asked } = at(d);
      const r = await engine.pairDistance(a, b);
      expect(r.mirrored, `at ${d}`).toBe(inside);
      expect(asked).toEqual(inside ? ['a', 'b'] : []);
      expect(r.distance).toBeCloseTo(inside ? d - 0.02 : d, 5);
    }
  });

  it('never asks for them with the mirror turned off, and the window follows a configured threshold', async () => {
    const off = await FaceEngine.create({ backend: 'wasm', alignment: { flip: false } });
    const { a, b, asked } = at(off.threshold);
    const r = await off.pairDistance(a, b);
    expect(r.mirrored).toBe(false);
    expect(r.distance).toBeCloseTo(off.threshold, 6);
    expect(asked).toEqual([]);
    const strict = await FaceEngine.create({ backend: 'wasm', threshold: 0.4 });
    expect((await strict.pairDistance(at(0.45).a, at(0.45).b)).mirrored).toBe(true);
    expect((await engine.pairDistance(at(0.45).a, at(0.45).b)).mirrored).toBe(false);
  });

  it('decides a real pair near the threshold on chip and mirror averaged, and a clear one on the chips alone', async () => {
    const [a, b] = [await engine.embed(curie1, 'img1'), await engine.embed(curie2, 'img2')];
    const plain = euclidean(a.descriptor, b.descriptor);
    const [ma, mb] = [await a.mirrored(), await b.mirrored()];
    expect(await a.mirrored()).toBe(ma); // computed once
    expect(euclidean(a.descriptor, ma)).toBeGreaterThan(0);
    expect(euclidean(a.descriptor, ma)).toBeLessThan(0.35);
    const avg = (x: Float32Array, y: Float32Array) => x.map((v, i) => (v + y[i]!) / 2);

    // An engine whose threshold sits on this pair's plain distance must take the mirrors into account.
    const near = await FaceEngine.create({ backend: 'wasm', threshold: plain });
    const before = near.numTensors();
    const r = await near.verify(curie1, curie2);
    expect(near.numTensors()).toBe(before);
    expect(VerifyResultSchema.parse(r)).toEqual(r);
    expect(r.mirrored).toBe(true);
    expect(r.distance).toBeCloseTo(euclidean(avg(a.descriptor, ma), avg(b.descriptor, mb)), 5);
    expect(r.distance).not.toBeCloseTo(plain, 4);
    expect(r.verified).toBe(r.distance <= plain);

    // Far outside `near`'s window (its threshold is the same-person pair's distance, with no review band).
    const clear = await near.verify(curie1, collins);
    expect(clear.distance).toBeGreaterThan(plain + 0.11);
    expect(clear.mirrored).toBe(false);
    const c = await engine.embed(collins, 'img2');
    expect(clear.distance).toBeCloseTo(euclidean(a.descriptor, c.descriptor), 5);
  });
});

describe('FaceEngine resources', () => {
  it('leaks no tensors over 200 verifications, errors included', async () => {
    const small = await sharp(collins).resize(200).jpeg().toBuffer();
    const smallCurie = await sharp(curie1).resize(160).jpeg().toBuffer();
    const smallCoffee = await sharp(coffee).resize(160).jpeg().toBuffer();
    const inputs: [Buffer | string, Buffer | string][] = [
      [small, smallCurie],
      [small, small],
      [smallCoffee, small],
      [small, 'not base64!'],
      [Buffer.from('GIF89a'), small],
    ];
    await engine.verify(small, smallCurie);
    const before = engine.numTensors();
    let errors = 0;
    for (let i = 0; i < 200; i++) {
      const [a, b] = inputs[i % inputs.length]!;
      await engine.verify(a, b).catch((e: unknown) => {
        expect(e).toBeInstanceOf(FaceMatchError);
        errors++;
      });
    }
    expect(errors).toBe(120);
    expect(engine.numTensors()).toBe(before);
  });
});

describe('model verification', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'facematch-models-'));
    for (const f of manifest.files) cpSync(join(defaultModelsDir, f.file), join(dir, f.file));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses to start on an altered or missing weights file, naming each', async () => {
    const target = manifest.files.find((f) => f.file.endsWith('.bin'))!.file;
    const bytes = readFileSync(join(dir, target));
    bytes[100] = bytes[100]! ^ 0xff;
    writeFileSync(join(dir, target), bytes);
    const missing = manifest.files.find((f) => f.file.startsWith('face_recognition'))!.file;
    rmSync(join(dir, missing));
    const err = (await FaceEngine.create({ backend: 'wasm', modelsDir: dir }).catch((e: unknown) => e)) as FaceMatchError;
    expect(err).toBeInstanceOf(FaceMatchError);
    expect(err.code).toBe('MODELS_INVALID');
    expect(err.message).toContain(`${target}: sha256 mismatch`);
    expect(err.message).toContain(`${missing}: missing`);
  });
});

describe('micro-batching', () => {
  it('gives the same descriptors batched as unbatched, and one job’s error never fails its batch-mates', async () => {
    const batched = await FaceEngine.create({ backend: 'wasm', batch: { size: 4, windowMs: 50 } });
    const photos = [curie1, curie2, collins, await sharp(collins).resize(300).jpeg().toBuffer()];
    const alone: Float32Array[] = [];
    const aloneMirrors: Float32Array[] = [];
    for (const p of photos) {
      const e = await engine.embed(p, 'img1');
      alone.push(e.descriptor);
      aloneMirrors.push(await e.mirrored());
    }
    const before = batched.numTensors();
    const together = await Promise.allSettled([...photos.map((p) => batched.embed(p, 'img1')), batched.embed(coffee, 'img2')]);
    expect(together.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    expect((together[4] as PromiseRejectedResult).reason).toMatchObject({ code: 'NO_FACE', image: 'img2' });
    const maxDiff = (x: Float32Array, y: Float32Array) => Math.max(...x.map((v, k) => Math.abs(v - y[k]!)));
    const embedded = together.slice(0, photos.length).map((r) => (r as PromiseFulfilledResult<FaceEmbedding>).value);
    // The mirror passes of all four, batched together too.
    const mirrors = await Promise.all(embedded.map((e) => e.mirrored()));
    for (let i = 0; i < photos.length; i++) {
      expect(maxDiff(embedded[i]!.descriptor, alone[i]!)).toBeLessThan(1e-4);
      expect(maxDiff(mirrors[i]!, aloneMirrors[i]!)).toBeLessThan(1e-4);
    }
    expect(batched.numTensors()).toBe(before);
  });
});
