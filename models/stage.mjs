#!/usr/bin/env node
// Stages the face-api weights named in manifest.json into MODELS_DIR (default: this folder), and
// converts them to the ONNX graphs the onnx runtime loads (models/onnx; their sha256 is in the manifest too).
// `--write-manifest` regenerates manifest.json from the installed package (a reviewed upgrade step).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildGraphs, defaultModelsDir, manifest, sha256, sourceDir, stageModels } from './index.mjs';

const NETS = ['tiny_face_detector_model', 'ssd_mobilenetv1_model', 'face_landmark_68_model', 'face_recognition_model'];

if (process.argv.includes('--write-manifest')) {
  const src = sourceDir();
  const files = NETS.flatMap((n) => {
    const json = `${n}-weights_manifest.json`;
    const shards = JSON.parse(readFileSync(join(src, json), 'utf8')).flatMap((g) => g.paths);
    return [json, ...shards];
  }).map((file) => {
    const buf = readFileSync(join(src, file));
    return { file, bytes: buf.length, sha256: sha256(buf) };
  });
  const bytes = new Map(files.map((f) => [f.file, readFileSync(join(src, f.file))]));
  const graphs = buildGraphs(bytes).map(({ data: _data, ...g }) => g);
  writeFileSync(join(defaultModelsDir, 'manifest.json'), `${JSON.stringify({ ...manifest, files, graphs }, null, 2)}\n`);
  console.log(`manifest.json: ${files.length} files from ${manifest.source.package}@${manifest.source.version}, ${graphs.length} ONNX graphs`);
} else {
  const dir = process.env.MODELS_DIR || defaultModelsDir;
  stageModels(dir);
  console.log(`models: ${manifest.files.length} files and ${manifest.graphs?.length ?? 0} ONNX graphs verified in ${dir}`);
}
