/**
 * Node colours: a statistic per node (gradient norm, value norm, mean or std) mapped onto a
 * diverging blue-to-red scale, and readable text on top of it.
 */
import { GraphDoc, GraphNode, nodeTensor, toNumber } from './schema';

export type ColorBy = 'grad' | 'norm' | 'mean' | 'std' | 'none';
export const COLOR_BY: ColorBy[] = ['grad', 'norm', 'mean', 'std', 'none'];

export const COLOR_BY_LABEL: { [k in ColorBy]: string } = {
  grad: 'gradient norm (log)',
  norm: 'value norm (log)',
  mean: 'mean',
  std: 'std',
  none: 'no colour'
};

// the same stops as the DOT/SVG export in Python, so both drawings agree
const STOPS = ['#3b4cc0', '#6788ee', '#9abbff', '#c9d7f0', '#edd1c2', '#f7a889', '#e26952', '#b40426'];
const RGB = STOPS.map(c => [1, 3, 5].map(i => parseInt(c.slice(i, i + 2), 16)));

export function asColorBy(x: unknown): ColorBy {
  return COLOR_BY.includes(x as ColorBy) ? (x as ColorBy) : 'grad';
}

/** The statistic `colorBy` picks for one document node, or null when it has none. */
export function nodeMetric(doc: GraphDoc, node: GraphNode, colorBy: ColorBy): number | null {
  if (colorBy === 'none') {
    return null;
  }
  const t = nodeTensor(doc, node);
  const s = t ? (colorBy === 'grad' ? t.grad : t.summary) : null;
  if (!s) {
    return null;
  }
  const raw = colorBy === 'grad' || colorBy === 'norm' ? s.norm : s[colorBy];
  const v = toNumber(raw);
  if (!Number.isFinite(v)) {
    return null;
  }
  return colorBy === 'grad' || colorBy === 'norm' ? Math.log10(v + 1e-12) : v;
}

/** A colour for `t` in [0, 1], interpolated between the scale's stops. */
export function scaleColor(t: number): string {
  const x = Math.max(0, Math.min(1, t)) * (RGB.length - 1);
  const i = Math.min(RGB.length - 2, Math.floor(x));
  const f = x - i;
  const c = RGB[i].map((a, j) => Math.round(a + (RGB[i + 1][j] - a) * f));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

/** A scale colour blended with the theme's background (light tints in light themes, dark shades
 * in dark ones), so node labels can keep the theme's text colour. */
export function themed(color: string): string {
  return `color-mix(in srgb, ${color} 55%, var(--jp-layout-color1))`;
}

export function scaleGradientCss(blend = false): string {
  return `linear-gradient(to right, ${STOPS.map(c => (blend ? themed(c) : c)).join(', ')})`;
}
