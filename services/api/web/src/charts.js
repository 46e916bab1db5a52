// ECharts, only the parts the dashboard uses (keeps the bundle small).
import * as echarts from 'echarts/core';
import { LineChart, HeatmapChart } from 'echarts/charts';
import { GridComponent, TooltipComponent, VisualMapComponent, MarkLineComponent, AriaComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import { HEAT_COLOURS } from './palette.js';

echarts.use([LineChart, HeatmapChart, GridComponent, TooltipComponent, VisualMapComponent, MarkLineComponent, AriaComponent, CanvasRenderer]);

const TEXT = '#e8eef5';
const MUTED = '#9fb3c8';

function chartIn(element) {
  const existing = echarts.getInstanceByDom(element);
  if (existing) return existing;
  const chart = echarts.init(element, null, { renderer: 'canvas' });
  window.addEventListener('resize', () => chart.resize());
  return chart;
}

/// A line of `points` ({label, value}); `target` draws a dashed line.
export function lineChart(element, { points, target, name, formatter, description }) {
  const chart = chartIn(element);
  chart.setOption(
    {
      aria: { enabled: true, label: { description } },
      textStyle: { color: TEXT, fontSize: 16 },
      grid: { left: 70, right: 30, top: 30, bottom: 50 },
      tooltip: { trigger: 'axis', valueFormatter: formatter },
      xAxis: { type: 'category', data: points.map((p) => p.label), axisLabel: { color: MUTED, fontSize: 14 } },
      yAxis: { type: 'value', axisLabel: { color: MUTED, fontSize: 14, formatter }, splitLine: { lineStyle: { color: '#24384d' } } },
      series: [
        {
          name,
          type: 'line',
          data: points.map((p) => p.value),
          connectNulls: false,
          symbolSize: 8,
          lineStyle: { width: 4, color: '#5cc8ff' },
          itemStyle: { color: '#5cc8ff' },
          markLine:
            target === null || target === undefined
              ? undefined
              : { symbol: 'none', lineStyle: { color: '#ffd166', type: 'dashed', width: 2 }, label: { color: '#ffd166', formatter: () => formatter(target) }, data: [{ yAxis: target }] },
        },
      ],
    },
    true,
  );
  return chart;
}

/// The units as a grid of cells coloured by value; `onPick(code)` when a cell is chosen.
export function heatGrid(element, { cells, columns, formatter, onPick, description, noData }) {
  const chart = chartIn(element);
  const values = cells.map((c) => c.value).filter((v) => v !== null);
  const rows = Math.ceil(cells.length / columns);
  chart.setOption(
    {
      aria: { enabled: true, label: { description } },
      textStyle: { color: TEXT },
      grid: { left: 10, right: 10, top: 10, bottom: 60 },
      tooltip: {
        formatter: (p) => {
          const cell = cells[p.data[3]];
          return `${cell.name}<br>${cell.value === null ? noData : formatter(cell.value)}`;
        },
      },
      xAxis: { type: 'category', data: [...Array(columns).keys()], show: false },
      yAxis: { type: 'category', data: [...Array(rows).keys()], show: false, inverse: true },
      visualMap: {
        min: values.length ? Math.min(...values) : 0,
        max: values.length ? Math.max(...values) : 1,
        calculable: false,
        orient: 'horizontal',
        left: 'center',
        bottom: 5,
        textStyle: { color: TEXT, fontSize: 14 },
        formatter: (v) => formatter(v),
        inRange: { color: HEAT_COLOURS },
      },
      series: [
        {
          type: 'heatmap',
          data: cells.map((c, i) => [i % columns, Math.floor(i / columns), c.value === null ? '-' : c.value, i]),
          itemStyle: { borderColor: '#0b1a2b', borderWidth: 2 },
          emphasis: { itemStyle: { borderColor: '#ffffff', borderWidth: 2 } },
        },
      ],
    },
    true,
  );
  chart.off('click');
  chart.on('click', (p) => onPick(cells[p.data[3]].code));
  return chart;
}
