/**
 * The HTML report of `facematch eval --report`: one self-contained page in ISO/IEC 19795-1 terms for a
 * buyer's risk team. Charts are vega-lite specs compiled to vega and rendered to SVG here, on the server,
 * so the page carries no script, and its Content-Security-Policy forbids every request: it can be mailed,
 * archived and opened offline, and shows the same thing in any browser.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { DecisionCounts, OperatingPoint, PolicyResult } from './biometrics.ts';

export type { DecisionCounts };
/** An operating point as the report shows it (biometrics.ts computes it). */
export type ReportOperatingPoint = Pick<OperatingPoint, 'fmr' | 'supported' | 'threshold' | 'fnmr' | 'fnmrCi95'>;
/** A named policy applied to a set. */
export type ReportPolicy = Pick<PolicyResult, 'name' | 'threshold' | 'fmr' | 'fmrCi95' | 'fnmr' | 'fnmrCi95'>;

/** A set's figures at the policy it was decided by (`policy`), with its threshold, review bound, decisions and rates. */
export interface ReportSet extends Omit<PolicyResult, 'name' | 'genuineReview'> {
  /** e.g. `lfw-folds2-5 folds 4,5`. */
  name: string;
  role: 'calibration' | 'held-back' | 'robustness';
  images: number;
  failedToAcquire: number;
  genuinePairs: number;
  impostorPairs: number;
  policy: string;
  /** FMR 1e-2, 1e-3, 1e-4, 1e-5 on this set's own impostors. */
  operatingPoints: ReportOperatingPoint[];
  /** Each named policy applied to this set. */
  policies: ReportPolicy[];
  /** Sorted by fmr ascending, fmr > 0. */
  det: { fmr: number; fnmr: number }[];
  /** Counts; bin i covers [i*step, (i+1)*step). */
  histogram: { step: number; genuine: number[]; impostor: number[] };
}

export interface ReportInput {
  title: string;
  /** ISO time. */
  generatedAt: string;
  system: {
    engineVersion: string;
    pipeline: string;
    backend: string;
    detector: string;
    machine: { cpu: string; cores: number; memoryGiB: number; os: string; node: string };
    models: { file: string; bytes: number; sha256: string }[];
    calibration: { sets: string[]; filesSha256: string; images: number; genuinePairs: number; impostorPairs: number } | null;
  };
  sets: ReportSet[];
}

export async function renderReport(input: ReportInput): Promise<string> {
  const { sets } = input;
  const det = await chartSvg(detSpec(sets), 'det');
  const histograms = await Promise.all(sets.map((s, i) => (s.genuinePairs + s.impostorPairs > 0 ? chartSvg(histogramSpec(s), `hist${i}`) : null)));

  const body = html`
<header>
  <h1>${input.title}</h1>
  <p class="meta">Generated <time datetime="${input.generatedAt}">${when(input.generatedAt)}</time> · engine ${input.system.engineVersion} · pipeline ${input.system.pipeline}</p>
</header>
<section>
  <p class="intro">Every pair of face images is compared and decided <em>match</em>, <em>review</em> or <em>no&nbsp;match</em> by
  a decision policy (a distance threshold, and for some policies a review band above it). A <em>genuine</em> pair shows the same
  person twice; an <em>impostor</em> pair shows two different people. The <strong>false match rate (FMR)</strong> is the share of
  impostor pairs decided match: the risk of letting the wrong person through. The <strong>false non-match rate (FNMR)</strong> is the
  share of genuine pairs not decided match (review counts as not matched): the cost in honest customers who are turned away or
  delayed. <em>Review</em> marks pairs a person should look at. Images in which no face could be found are counted as
  <em>failed to acquire</em>; their pairs are never decided match. Each rate comes with its 95% Clopper–Pearson interval [lo, hi],
  the range the true rate lies in with 95% confidence given the number of pairs measured; with few pairs the interval is wide, and a
  rate of 0 still has an upper bound. Figures for a <em>calibration</em> set are measured on the images the thresholds were chosen
  on and so flatter the system; <em>held-back</em> sets were not used for calibration and are the fair estimate; <em>robustness</em>
  sets are deliberately harder images.</p>
</section>
<section>
  <h2>Summary</h2>
  <div class="scroll"><table class="summary">
    <thead><tr>
      <th>Set</th><th>Role</th><th class="n">Images</th><th class="n">Failed to acquire</th><th class="n">Genuine pairs</th><th class="n">Impostor pairs</th>
      <th>Policy</th><th>FMR [95% CI]</th><th>FNMR [95% CI]</th><th class="n">Genuine review</th><th>Decisions (match / review / no match)</th>
    </tr></thead>
    <tbody>${sets.map(summaryRow)}</tbody>
  </table></div>
</section>
<section>
  <h2>Detection error trade-off (DET)</h2>
  <p class="note">FNMR against FMR as the threshold moves, on log axes; lower left is better. Marks are the named policies on each set;
  ringed is the policy the set was decided at. Points with a rate of 0 cannot be drawn on a log axis and are left out.</p>
  <figure class="chart">${raw(det)}</figure>
</section>
<section>
  <h2>Distance distributions</h2>
  <p class="note">Distance between the two faces of a pair, genuine and impostor, each scaled to unit area so that both show even
  though impostor pairs outnumber genuine ones many times over. Solid line: the match threshold; dashed line: the review bound.
  The few impostor pairs under the threshold are too small a share to see at this scale; the DET curve and the tables give them.</p>
  <div class="grid">${sets.map((s, i) => {
    const svg = histograms[i];
    return html`<figure class="chart"><figcaption>${s.name}</figcaption>${svg ? raw(svg) : html`<p class="note">No scored pairs.</p>`}</figure>`;
  })}</div>
</section>
<section>
  <h2>Operating points</h2>
  <p class="note">Per set: each named policy applied to it, and the FNMR at fixed FMRs, with the threshold chosen on that set's own
  impostor pairs. A fixed FMR needs enough impostor pairs to be measured at all; where it has too few, no figure is given.</p>
  <div class="grid">${sets.map(operatingPointTables)}</div>
</section>
<section>
  <h2>System under test</h2>
  ${systemSection(input.system)}
</section>`;

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${esc(input.title)}</title>
<style>${STYLE}</style>
</head>
<body>${body.value}
</body>
</html>
`;
}

// ---------------------------------------------------------------------------------------------- HTML

/** Markup that is already safe; everything else put in `html` is escaped. */
class Raw {
  constructor(readonly value: string) {}
}
const raw = (s: string) => new Raw(s);

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** A template tag that escapes every value unless it is `Raw`, so no call site can forget to. */
function html(strings: TemplateStringsArray, ...values: unknown[]): Raw {
  const part = (v: unknown): string =>
    v instanceof Raw ? v.value : Array.isArray(v) ? v.map(part).join('') : v === null || v === undefined || v === false ? '' : esc(String(v));
  return raw(strings.reduce((out, s, i) => out + s + (i < values.length ? part(values[i]) : ''), ''));
}

function summaryRow(s: ReportSet): Raw {
  const g = s.decisions.genuine;
  const m = s.decisions.impostor;
  return html`<tr>
    <td class="set">${s.name}</td>
    <td><span class="role role-${s.role}">${s.role}</span></td>
    <td class="n">${int(s.images)}</td>
    <td class="n">${int(s.failedToAcquire)}${s.images > 0 && s.failedToAcquire > 0 ? html`<br><small>${rate(s.failedToAcquire / s.images)}</small>` : ''}</td>
    <td class="n">${int(s.genuinePairs)}</td>
    <td class="n">${int(s.impostorPairs)}</td>
    <td>${policyLabel(s)}</td>
    <td class="rate">${rate(s.fmr)}<br><small>${ci(s.fmrCi95)}</small></td>
    <td class="rate">${rate(s.fnmr)}<br><small>${ci(s.fnmrCi95)}</small></td>
    <td class="n">${s.genuinePairs > 0 ? rate(g.review / s.genuinePairs) : '–'}</td>
    <td class="counts">genuine ${int(g.match)} / ${int(g.review)} / ${int(g.no_match)}<br>impostor ${int(m.match)} / ${int(m.review)} / ${int(m.no_match)}</td>
  </tr>`;
}

function policyLabel(s: ReportSet): Raw {
  const band = s.reviewUpTo > s.threshold ? html`<br><small>review ≤ ${dist(s.reviewUpTo)}</small>` : '';
  return html`<strong>${s.policy}</strong><br><small>match ≤ ${dist(s.threshold)}</small>${band}`;
}

function operatingPointTables(s: ReportSet): Raw {
  return html`<div class="card">
    <h3>${s.name} <span class="role role-${s.role}">${s.role}</span></h3>
    <table>
      <caption>Named policies on this set</caption>
      <thead><tr><th>Policy</th><th class="n">Threshold</th><th>FMR [95% CI]</th><th>FNMR [95% CI]</th></tr></thead>
      <tbody>${s.policies.map(
        (p) => html`<tr${p.name === s.policy ? raw(' class="current"') : ''}>
          <td>${p.name}${p.name === s.policy ? html` <small>(in use)</small>` : ''}</td><td class="n">${dist(p.threshold)}</td>
          <td class="rate">${rate(p.fmr)} <small>${ci(p.fmrCi95)}</small></td><td class="rate">${rate(p.fnmr)} <small>${ci(p.fnmrCi95)}</small></td>
        </tr>`,
      )}</tbody>
    </table>
    <table>
      <caption>FNMR at fixed FMR (${int(s.impostorPairs)} impostor pairs)</caption>
      <thead><tr><th>Target FMR</th><th class="n">Threshold</th><th>FNMR [95% CI]</th></tr></thead>
      <tbody>${s.operatingPoints.map((o) =>
        o.supported && o.threshold !== null && o.fnmr !== null
          ? html`<tr><td>${sci(o.fmr)}</td><td class="n">${dist(o.threshold)}</td><td class="rate">${rate(o.fnmr)} <small>${o.fnmrCi95 ? ci(o.fnmrCi95) : ''}</small></td></tr>`
          : html`<tr class="unsupported"><td>${sci(o.fmr)}</td><td colspan="2">too few impostor pairs</td></tr>`,
      )}</tbody>
    </table>
  </div>`;
}

function systemSection(sys: ReportInput['system']): Raw {
  const m = sys.machine;
  const cal = sys.calibration;
  return html`<div class="grid">
    <table class="kv">
      <caption>Engine and machine</caption>
      <tbody>
        <tr><th>Engine version</th><td>${sys.engineVersion}</td></tr>
        <tr><th>Pipeline</th><td><code>${sys.pipeline}</code></td></tr>
        <tr><th>Backend</th><td>${sys.backend}</td></tr>
        <tr><th>Face detector</th><td>${sys.detector}</td></tr>
        <tr><th>CPU</th><td>${m.cpu} (${m.cores} cores)</td></tr>
        <tr><th>Memory</th><td>${m.memoryGiB} GiB</td></tr>
        <tr><th>Operating system</th><td>${m.os}</td></tr>
        <tr><th>Node.js</th><td>${m.node}</td></tr>
      </tbody>
    </table>
    <table class="kv">
      <caption>Calibration set</caption>
      <tbody>${
        cal
          ? html`
        <tr><th>Sets</th><td>${cal.sets.map((n, i) => html`${i ? ', ' : ''}${n}`)}</td></tr>
        <tr><th>Images</th><td>${int(cal.images)}</td></tr>
        <tr><th>Genuine pairs</th><td>${int(cal.genuinePairs)}</td></tr>
        <tr><th>Impostor pairs</th><td>${int(cal.impostorPairs)}</td></tr>
        <tr><th>File list SHA-256</th><td><code class="hash">${cal.filesSha256}</code></td></tr>`
          : html`<tr><td>No calibration file: decisions use a fixed threshold.</td></tr>`
      }</tbody>
    </table>
  </div>
  <div class="scroll"><table class="models">
    <caption>Model files</caption>
    <thead><tr><th>File</th><th class="n">Size</th><th>SHA-256</th></tr></thead>
    <tbody>${sys.models.map((f) => html`<tr><td><code>${f.file}</code></td><td class="n">${bytes(f.bytes)}</td><td><code class="hash">${f.sha256}</code></td></tr>`)}</tbody>
  </table></div>`;
}

// ------------------------------------------------------------------------------------------ numbers

const int = (n: number) => n.toLocaleString('en-US');
/** Distances are compared at four decimals everywhere else in facematch. */
const dist = (d: number) => d.toFixed(4);
const sci = (v: number) => v.toExponential(0).replace('e+', 'e');

/** A rate: exponent form below 0.1% where percent would need many zeros, else a percent with ~3 significant digits. */
export function rate(v: number): string {
  if (!Number.isFinite(v)) return '–';
  if (v === 0) return '0';
  if (v < 1e-3) return v.toExponential(1).replace('e+', 'e');
  const p = v * 100;
  return `${p >= 10 ? p.toFixed(1) : p >= 1 ? p.toFixed(2) : p.toPrecision(2)}%`;
}

export const ci = (c: [number, number]) => `[${rate(c[0])}, ${rate(c[1])}]`;

/** `2026-12-03 10:25:33 UTC`: the ISO time without the T and milliseconds; anything unparseable as given. */
function when(iso: string): string {
  const t = new Date(iso);
  return Number.isNaN(t.getTime()) ? iso : `${t.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

function bytes(n: number): string {
  const mib = n / 2 ** 20;
  return mib >= 1 ? `${mib.toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
}

// ------------------------------------------------------------------------------------------- charts

const FONT = 'system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif';
const GENUINE = '#1b7f5f';
const IMPOSTOR = '#c8553d';

const CONFIG = {
  font: FONT,
  background: 'white',
  view: { stroke: '#ccc' },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', gridColor: '#e6e6e6', domainColor: '#888', tickColor: '#888' },
  legend: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', labelLimit: 320 },
} as const;

/** Compiles vega-lite to vega and renders SVG headlessly: no DOM, no canvas, no script in the page. */
async function chartSvg(spec: TopLevelSpec, idPrefix: string): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    // Vega numbers clip paths and gradients per process; prefix them so several SVGs in one page never share an id.
    return svg.replace(/(id="|url\(#)((?:clip|gradient_)\d+)/g, `$1${idPrefix}-$2`);
  } finally {
    view.finalize();
  }
}

/** Powers of ten from the one at or below `lo` up to 1: the ticks of a log rate axis. */
function decades(lo: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= 0; e++) out.push(10 ** e);
  return out;
}

function detSpec(sets: ReportSet[]): TopLevelSpec {
  const names = sets.map((s) => s.name);
  const line = sets.flatMap((s) => s.det.filter((p) => p.fmr > 0 && p.fnmr > 0).map((p) => ({ set: s.name, fmr: p.fmr, fnmr: p.fnmr })));
  const marks = sets.flatMap((s) =>
    s.policies.filter((p) => p.fmr > 0 && p.fnmr > 0).map((p) => ({ set: s.name, policy: p.name, fmr: p.fmr, fnmr: p.fnmr })),
  );
  const current = sets.filter((s) => s.fmr > 0 && s.fnmr > 0).map((s) => ({ set: s.name, policy: s.policy, fmr: s.fmr, fnmr: s.fnmr }));
  const all = [...line, ...marks, ...current];
  // Axes start at the decade at or below the smallest drawn rate, and show at least down to 1e-4 FMR and 1% FNMR.
  const xLo = Math.min(1e-4, ...all.map((d) => d.fmr));
  const yLo = Math.min(1e-2, ...all.map((d) => d.fnmr));
  const xTicks = decades(xLo);
  const yTicks = decades(yLo);
  const logAxis = (title: string, values: number[]) => ({
    title,
    values,
    // Vega-lite's log ticks would label every 2..9 as well; decades alone read cleanly.
    // Same convention as the tables: percent down to 0.1%, exponent form below.
    labelExpr: "datum.value >= 0.01 ? format(datum.value, '.0%') : datum.value >= 0.001 ? format(datum.value, '.1%') : format(datum.value, '.0e')",
    grid: true,
  });
  const xDomain: number[] = [xTicks[0]!, 1];
  const yDomain: number[] = [yTicks[0]!, 1];
  const x = { field: 'fmr', type: 'quantitative', scale: { type: 'log', domain: xDomain, clamp: true }, axis: logAxis('False match rate (FMR)', xTicks) } as const;
  const y = { field: 'fnmr', type: 'quantitative', scale: { type: 'log', domain: yDomain, clamp: true }, axis: logAxis('False non-match rate (FNMR)', yTicks) } as const;
  const color = { field: 'set', type: 'nominal', title: 'Set', scale: { domain: names, scheme: 'tableau10' } } as const;
  return {
    width: 760,
    height: 470,
    config: CONFIG,
    layer: [
      { data: { values: line }, mark: { type: 'line', strokeWidth: 2, clip: true, interpolate: 'linear' }, encoding: { x, y, color } },
      {
        data: { values: marks },
        mark: { type: 'point', filled: true, size: 70, opacity: 1, stroke: 'white', strokeWidth: 0.8 },
        encoding: { x, y, color, shape: { field: 'policy', type: 'nominal', title: 'Named policy' } },
      },
      {
        // A black ring around the point each set is decided at; its own stroke scale gives it a legend entry.
        data: { values: current },
        mark: { type: 'point', shape: 'circle', filled: false, size: 320, strokeWidth: 2 },
        encoding: { x, y, stroke: { datum: 'policy in use', type: 'nominal', title: null, scale: { range: ['#111'] } } },
      },
    ],
  };
}

function histogramSpec(s: ReportSet): TopLevelSpec {
  const { step } = s.histogram;
  const density = (counts: number[], cls: string) => {
    const total = counts.reduce((a, b) => a + b, 0);
    // Density (per unit distance) rather than counts: impostors outnumber genuine pairs by orders of magnitude.
    return total === 0 ? [] : counts.map((c, i) => ({ class: cls, x0: i * step, x1: (i + 1) * step, density: c / (total * step) })).filter((d) => d.density > 0);
  };
  const bars = [...density(s.histogram.genuine, 'genuine'), ...density(s.histogram.impostor, 'impostor')];
  // Show the occupied range only; the histogram's fixed upper bound is often far past the last pair.
  const xMax = Math.max(s.reviewUpTo, s.threshold, ...bars.map((b) => b.x1)) + step;
  const yMax = Math.max(1, ...bars.map((b) => b.density));
  // The match label sits left of its rule and the review label right of its own, so close bounds never collide.
  const rules = [{ at: s.threshold, label: `match ≤ ${dist(s.threshold)}`, dash: 'solid', side: 'left' }];
  if (s.reviewUpTo > s.threshold) rules.push({ at: s.reviewUpTo, label: `review ≤ ${dist(s.reviewUpTo)}`, dash: 'dashed', side: 'right' });
  const xDomain: number[] = [0, Math.ceil(xMax * 10) / 10];
  const x = { type: 'quantitative', scale: { domain: xDomain, nice: false } } as const;
  return {
    width: 500,
    height: 190,
    config: CONFIG,
    layer: [
      {
        data: { values: bars },
        // rect, not bar: a bar with x and x2 is read as a horizontal range and loses its zero baseline.
        mark: { type: 'rect', opacity: 0.6 },
        encoding: {
          x: { ...x, field: 'x0', title: 'Distance (lower = more alike)' },
          x2: { field: 'x1' },
          // Headroom above the tallest bin keeps the rule labels clear of the bars.
          y: { field: 'density', type: 'quantitative', title: 'Density', scale: { domain: [0, yMax * 1.22] } },
          y2: { datum: 0 },
          color: { field: 'class', type: 'nominal', title: 'Pairs', scale: { domain: ['genuine', 'impostor'], range: [GENUINE, IMPOSTOR] } },
        },
      },
      {
        data: { values: rules },
        mark: { type: 'rule', color: '#111', strokeWidth: 1.5 },
        encoding: {
          x: { ...x, field: 'at' },
          strokeDash: { field: 'dash', type: 'nominal', scale: { domain: ['solid', 'dashed'], range: [[1, 0], [5, 3]] }, legend: null },
        },
      },
      {
        data: { values: rules.filter((r) => r.side === 'left') },
        mark: { type: 'text', align: 'right', dx: -4, baseline: 'top', y: 4, fontSize: 10.5, color: '#111' },
        encoding: { x: { ...x, field: 'at' }, text: { field: 'label' } },
      },
      {
        data: { values: rules.filter((r) => r.side === 'right') },
        mark: { type: 'text', align: 'left', dx: 4, baseline: 'top', y: 4, fontSize: 10.5, color: '#111' },
        encoding: { x: { ...x, field: 'at' }, text: { field: 'label' } },
      },
    ],
  };
}

// -------------------------------------------------------------------------------------------- style

const STYLE = `
:root { color-scheme: light; }
body { font-family: ${FONT}; color: #1d1d1f; margin: 0 auto; padding: 24px 32px 48px; max-width: 1240px; line-height: 1.45; font-size: 14px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 1px solid #ddd; }
h3 { font-size: 15px; margin: 0 0 8px; }
.meta { color: #555; margin: 0 0 12px; }
td small { white-space: nowrap; }
.intro { max-width: 72em; }
.note { color: #555; font-size: 13px; max-width: 72em; }
table { border-collapse: collapse; margin: 0 0 12px; font-size: 13px; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { padding: 5px 8px; border-bottom: 1px solid #e3e3e3; text-align: left; vertical-align: top; }
thead th { background: #f4f5f7; font-weight: 600; border-bottom: 1px solid #ccc; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
td.rate, td.counts { font-variant-numeric: tabular-nums; white-space: nowrap; }
small { color: #555; }
td.set { font-weight: 600; }
.summary { width: 100%; }
.scroll { overflow-x: auto; }
.role { display: inline-block; padding: 0 6px; border-radius: 3px; font-size: 12px; white-space: nowrap; }
.role-calibration { background: #fff1d6; color: #7a4b00; }
.role-held-back { background: #ddf1e6; color: #135e3d; }
.role-robustness { background: #e4e8fb; color: #2b3a8c; }
tr.current td { background: #f6f8ff; }
tr.unsupported td { color: #777; font-style: italic; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 16px 28px; align-items: start; }
.card { border: 1px solid #e3e3e3; border-radius: 6px; padding: 12px 14px; }
.card table { width: 100%; }
figure.chart { margin: 0; }
figure.chart figcaption { font-weight: 600; margin-bottom: 4px; }
figure.chart svg { max-width: 100%; height: auto; }
table.kv th { width: 11em; background: none; font-weight: 600; }
code { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; }
code.hash { word-break: break-all; }
@media print { body { padding: 0; } section { break-inside: avoid-page; } }
`;
