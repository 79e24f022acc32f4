import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';

export interface LabelledPair {
  img1: string;
  img2: string;
  same: boolean;
}

/** Reads `img1,img2,same` (extra columns ignored); relative paths resolve against `root`. */
export function readPairs(file: string, root = dirname(file)): LabelledPair[] {
  const lines = readFileSync(file, 'utf8').split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = (lines.shift() ?? '').split(',').map((h) => h.trim().toLowerCase());
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`${file}: header must name img1,img2,same (got "${header.join(',')}")`);
    return i;
  };
  const [i1, i2, is] = [col('img1'), col('img2'), col('same')];
  return lines.map((line, n) => {
    const cells = line.split(',').map((c) => c.trim());
    const same = (cells[is] ?? '').toLowerCase();
    if (!['1', '0', 'true', 'false'].includes(same)) throw new Error(`${file}:${n + 2}: same must be 1/0 or true/false, got "${same}"`);
    const at = (p: string | undefined) => {
      if (!p) throw new Error(`${file}:${n + 2}: missing image path`);
      return isAbsolute(p) ? p : resolve(root, p);
    };
    return { img1: at(cells[i1]), img2: at(cells[i2]), same: same === '1' || same === 'true' };
  });
}
