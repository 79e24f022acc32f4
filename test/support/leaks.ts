/** What must never be stored or logged: image bytes (JPEG, PNG, WebP in base64), JWTs, descriptors. */
const PATTERNS: [string, RegExp][] = [
  ['JPEG base64', /\/9j\//],
  ['PNG base64', /iVBORw0KGgo/],
  ['WebP base64', /UklGR/],
  // Raw image bytes, as Redis holds them while a job waits (values are dumped as latin1).
  ['JPEG bytes', /\xff\xd8\xff/],
  ['PNG bytes', /\x89PNG\r\n\x1a\n/],
  ['WebP bytes', /RIFF[\s\S]{4}WEBP/],
  // Image bytes written as a JSON byte array: how a Buffer serialises ({"type":"Buffer","data":[255,216,...]}),
  // and how ioredis's refused-command errors once put images in a log line.
  ['JPEG byte array', /\b255\s*,\s*216\s*,\s*255\b/],
  ['PNG byte array', /\b137\s*,\s*80\s*,\s*78\s*,\s*71\s*,\s*13\s*,\s*10\s*,\s*26\s*,\s*10\b/],
  ['WebP byte array', /\b82\s*,\s*73\s*,\s*70\s*,\s*70(?:\s*,\s*\d{1,3}){4}\s*,\s*87\s*,\s*69\s*,\s*66\s*,\s*80\b/],
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
