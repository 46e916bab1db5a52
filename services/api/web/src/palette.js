// The heat grid's colours, lowest value first: from the dark of the page's background to a pale
// cream, so on the dark wall the higher a commune's value, the brighter its cell. The grid's
// note (i18n.js, gridNote) says so in words; tests/unit/palette.test.mjs holds the two together.
export const HEAT_COLOURS = ['#3b1d4a', '#8f3f71', '#e0735b', '#f7c873', '#f5f3c1'];

/// The relative luminance of a `#rrggbb` colour (WCAG 2.x), from 0 (black) to 1 (white).
export function luminance(hex) {
  const channel = (offset) => {
    const c = parseInt(hex.slice(offset, offset + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}
