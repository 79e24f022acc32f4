/** What must never be stored or logged: image bytes (JPEG, PNG, WebP in base64), JWTs, descriptors. */
const PATTERNS: [string, RegExp][] = [
  ['JPEG base64', /\/9j\//],
  ['PNG base64', /iVBORw0KGgo/],
  ['WebP base64', /UklGR/],
  // Raw image bytes, as Redis holds them while a job waits (values are dumped as latin1).
  ['JPEG bytes', /\xff\xd8\xff/],
  ['PNG bytes', /\x89PNG\r\n\x1a\n/],
  ['WebP bytes', /RIFF[\s\S]{4}WEBP/],
  ['JWT', /eyJ[A-Za-z0-9_-]{8,}/],
  ['128-float array', new RegExp(`\\[\\s*-?\\d+\\.\\d+(?:\\s*,\\s*-?\\d+(?:\\.\\d+)?(?:e-?\\d+)?){127}\\s*\\]`)],
];

/** Returns "source: what" for every hit; empty when clean. */
export function findLeaks(entries: Iterable<[string, string]>): string[] {
  const hits: string[] = [];
  for (const [where, text] of entries) {
    for (const [what, re] of PATTERNS) if (re.test(text)) hits.push(`${where}: ${what}`);
  }
  return hits;
}
