// CPAP usage for the nights cpapCompliance returns, as an SVG bar chart with the 4 h line, plus the verdict in
// words (the chart is an image to assistive tech; the numbers and the verdict are plain text beside it).
import { h } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
const HEIGHT = 120;
const MAX_HOURS = 12;

function svg(tag, attrs, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  if (text) el.textContent = text;
  return el;
}

function y(hours) {
  return HEIGHT - (Math.min(hours, MAX_HOURS) / MAX_HOURS) * HEIGHT;
}

export function verdictText(result) {
  const window = result.bestWindow;
  if (!window) return `Not enough nights for a ${result.rule} verdict.`;
  const share = `${window.nightsOver4h} of 30 nights ≥ 4 h (${window.from} to ${window.to})`;
  return result.adherent ? `Compliant: ${share}.` : `Not yet compliant: best was ${share}; 21 needed.`;
}

export function usageChart(result) {
  const nights = result.nightly;
  const width = nights.length * 4;
  const chart = svg('svg', { viewBox: `0 0 ${width} ${HEIGHT}`, preserveAspectRatio: 'none', class: 'chart',
    role: 'img', 'aria-label': `Nightly CPAP hours, ${result.from} to ${result.to}` });
  nights.forEach((night, i) => {
    const bar = svg('rect', { x: i * 4, y: y(night.hours), width: 3, height: HEIGHT - y(night.hours),
      class: night.minutes >= 240 ? 'night good' : 'night short', 'data-night': night.date });
    bar.append(svg('title', {}, `${night.date}: ${night.hours} h`));
    chart.append(bar);
  });
  chart.append(svg('line', { x1: 0, x2: width, y1: y(4), y2: y(4), class: 'threshold' }));
  return h('figure', { class: 'cpap' },
    chart,
    h('figcaption', {},
      h('p', { class: result.adherent ? 'verdict ok' : 'verdict warn', 'data-testid': 'cpap-verdict',
        text: verdictText(result) }),
      h('p', { text: `${result.nights} nights shown (${result.nightsLogged} logged), average ${result.averageHours} h `
        + `a night, ${result.nightsOver4h} nights ≥ 4 h; AHI trend: ${result.ahiTrend.direction}.` })));
}
