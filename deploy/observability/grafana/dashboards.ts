// The trader's Grafana dashboards as code (@grafana/grafana-foundation-sdk): trading performance, system health,
// risk exposure, ML model performance. `npm run dashboards -w @cryptoscalp/deploy` writes them as JSON under
// `dashboards/`, which Grafana provisions (`provisioning/dashboards/cryptoscalp.yml`); the deploy tests regenerate
// them in memory and fail when the committed files differ. Every PromQL expression names only metrics the trader
// exports or the recording rules define (`deploy/test/metric-names.test.ts` checks it against a running trader).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as common from '@grafana/grafana-foundation-sdk/common';
import {
  type Dashboard,
  DashboardBuilder,
  DashboardCursorSync,
  MappingType,
  QueryVariableBuilder,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as LogsPanel } from '@grafana/grafana-foundation-sdk/logs';
import { DataqueryBuilder as LokiQuery } from '@grafana/grafana-foundation-sdk/loki';
import { DataqueryBuilder as PromQuery } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';

/** The provisioned data sources (`provisioning/datasources/cryptoscalp.yml` gives them these uids). */
export const DATASOURCES = {
  prometheus: { type: 'prometheus', uid: 'prometheus' },
  loki: { type: 'loki', uid: 'loki' },
} as const;

/** Where the generated JSON lives, one file per dashboard named `<key>.json`. */
export const DASHBOARDS_DIR = fileURLToPath(new URL('./dashboards/', import.meta.url));

/** Selector of the trader's own series on the instances chosen in the dashboard's `instance` variable. */
const T = 'component="trader",instance=~"$instance"';
/** Selector of any series of the chosen instances. */
const I = 'instance=~"$instance"';

/** One query of a time series panel: PromQL and its legend. */
type Series = readonly [expr: string, legend: string];

interface PanelOptions {
  unit?: string;
  /** Width in grid columns (24 per row). @default 12 for time series, 6 for stats */
  width?: number;
  description?: string;
  thresholds?: readonly (readonly [value: number, color: string])[];
  min?: number;
}

function thresholds(steps: PanelOptions['thresholds']): ThresholdsConfigBuilder {
  return new ThresholdsConfigBuilder()
    .mode(ThresholdsMode.Absolute)
    .steps([{ value: null, color: 'green' }, ...(steps ?? []).map(([value, color]) => ({ value, color }))]);
}

function promTarget(expr: string, legend: string, refId: string): PromQuery {
  return new PromQuery().datasource(DATASOURCES.prometheus).expr(expr).legendFormat(legend).refId(refId);
}

/** A time series panel of one or more PromQL queries. */
function timeseries(title: string, series: readonly Series[], o: PanelOptions = {}): TimeseriesPanel {
  const p = new TimeseriesPanel()
    .title(title)
    .datasource(DATASOURCES.prometheus)
    .span(o.width ?? 12)
    .height(8)
    .unit(o.unit ?? 'short')
    .fillOpacity(10)
    .lineWidth(1)
    .thresholds(thresholds(o.thresholds));
  if (o.description !== undefined) p.description(o.description);
  if (o.min !== undefined) p.min(o.min);
  series.forEach(([expr, legend], i) => {
    p.withTarget(promTarget(expr, legend, String.fromCharCode(65 + i)));
  });
  return p;
}

/** A single-value panel; `text` maps values to words (the kill switch's 0/1/2). */
function stat(
  title: string,
  expr: string,
  o: PanelOptions & { text?: Record<string, readonly [text: string, color: string]> } = {},
): StatPanel {
  const p = new StatPanel()
    .title(title)
    .datasource(DATASOURCES.prometheus)
    .span(o.width ?? 6)
    .height(4)
    .unit(o.unit ?? 'short')
    .graphMode(common.BigValueGraphMode.Area)
    .colorMode(common.BigValueColorMode.Value)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']))
    .thresholds(thresholds(o.thresholds))
    .withTarget(promTarget(expr, '', 'A').instant());
  if (o.description !== undefined) p.description(o.description);
  if (o.text !== undefined) {
    const options: Record<string, { text: string; color: string; index: number }> = {};
    Object.entries(o.text).forEach(([value, [text, color]], index) => {
      options[value] = { text, color, index };
    });
    p.mappings([{ type: MappingType.ValueToText, options }]);
  }
  return p;
}

/** p50 and p99 of a histogram, by the given labels. */
function quantiles(metric: string, selector: string, by: string, legend: string): Series[] {
  return [0.5, 0.99].map((q) => [
    `histogram_quantile(${q}, sum by (le${by ? `, ${by}` : ''}) (rate(${metric}_bucket{${selector}}[$__rate_interval])))`,
    `p${q * 100} ${legend}`,
  ]);
}

/** A dashboard with the shared settings and an `instance` variable over the trader's targets. */
function dashboard(uid: string, title: string, description: string): DashboardBuilder {
  return new DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['cryptoscalp', 'generated'])
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .refresh('30s')
    .time({ from: 'now-3h', to: 'now' })
    .timezone('utc')
    .withVariable(
      new QueryVariableBuilder('instance')
        .label('Instance')
        .datasource(DATASOURCES.prometheus)
        .query('label_values(cryptoscalp_stats_readiness, instance)')
        .definition('label_values(cryptoscalp_stats_readiness, instance)')
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        .allValue('.*'),
    );
}

function tradingPerformance(): DashboardBuilder {
  return dashboard('cryptoscalp-trading', 'CryptoScalp / Trading performance', 'PnL, fills, volume and outcomes.')
    .withRow(new RowBuilder('Results'))
    .withPanel(stat('Net PnL', `sum(cryptoscalp_stats_pnl_net{${T}})`, { unit: 'currencyUSD' }))
    .withPanel(stat('Realized PnL', `sum(cryptoscalp_stats_pnl_realized{${T}})`, { unit: 'currencyUSD' }))
    .withPanel(stat('Fees paid', `sum(cryptoscalp_stats_pnl_fees{${T}})`, { unit: 'currencyUSD' }))
    .withPanel(stat('Win ratio', `avg(cryptoscalp_trading_win_ratio{${I}})`, { unit: 'percentunit' }))
    .withPanel(
      timeseries('Equity', [[`sum by (instance) (cryptoscalp_trading_equity{${I}})`, '{{instance}}']], {
        unit: 'currencyUSD',
      }),
    )
    .withPanel(
      timeseries(
        'PnL by symbol',
        [
          [`sum by (symbol) (cryptoscalp_trading_realized_pnl{${I}})`, 'realized {{symbol}}'],
          [`sum by (symbol) (cryptoscalp_trading_unrealized_pnl{${I}})`, 'unrealized {{symbol}}'],
        ],
        { unit: 'currencyUSD' },
      ),
    )
    .withRow(new RowBuilder('Activity'))
    .withPanel(
      timeseries(
        'Fills per second',
        [
          [
            `sum by (symbol, side) (rate(cryptoscalp_trading_trades_total{${I}}[$__rate_interval]))`,
            '{{symbol}} {{side}}',
          ],
        ],
        { unit: 'ops', min: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'Traded volume per second',
        [[`sum by (symbol) (rate(cryptoscalp_trading_volume_total{${I}}[$__rate_interval]))`, '{{symbol}}']],
        { unit: 'currencyUSD', min: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'Orders per second',
        [
          [`sum(rate(cryptoscalp_stats_counters_orders_submitted{${T}}[$__rate_interval]))`, 'submitted'],
          [`sum(rate(cryptoscalp_stats_counters_cancelled{${T}}[$__rate_interval]))`, 'cancelled'],
          [`sum(rate(cryptoscalp_stats_counters_venue_rejected{${T}}[$__rate_interval]))`, 'rejected by the venue'],
          [`sum(rate(cryptoscalp_stats_counters_fills{${T}}[$__rate_interval]))`, 'fills'],
        ],
        { unit: 'ops', min: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'Round trips by outcome',
        [
          [
            `sum by (outcome) (increase(cryptoscalp_trading_trade_outcomes_total{${I}}[$__rate_interval]))`,
            '{{outcome}}',
          ],
        ],
        { min: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'Order to fill latency',
        quantiles('cryptoscalp_trader_stage_latency_seconds', `stage="order_to_fill",${I}`, '', 'order to fill'),
        { unit: 's', width: 24 },
      ),
    );
}

function systemHealth(): DashboardBuilder {
  return dashboard(
    'cryptoscalp-system',
    'CryptoScalp / System health',
    'Targets, readiness, SLOs, latency, dependencies, process and logs.',
  )
    .withRow(new RowBuilder('Service'))
    .withPanel(
      stat('Targets up', 'sum(up{job=~"cryptoscalp-.*"})', {
        description: 'Engine and gateway targets Prometheus scrapes successfully.',
      }),
    )
    .withPanel(
      stat('Readiness', `max(cryptoscalp_stats_readiness{${T}})`, {
        text: {
          '0': ['pass', 'green'],
          '1': ['warn', 'orange'],
          '2': ['fail', 'red'],
          '3': ['starting', 'blue'],
          '4': ['draining', 'purple'],
        },
      }),
    )
    .withPanel(
      stat('Persistence lag', `max(cryptoscalp_stats_persistence_lag{${T}})`, {
        unit: 'short',
        thresholds: [[1000, 'red']],
        description: 'Journal entries not yet in PostgreSQL.',
      }),
    )
    .withPanel(
      stat('API 5xx ratio (1h)', 'sum(job:cryptoscalp_api_errors:ratio_rate1h)', {
        unit: 'percentunit',
        thresholds: [[0.001, 'red']],
      }),
    )
    .withRow(new RowBuilder('Service level objectives'))
    .withPanel(
      timeseries(
        'Error ratios against their objectives',
        [
          ['sum by (job) (job:cryptoscalp_api_errors:ratio_rate1h)', 'API 5xx {{job}} (objective 0.1%)'],
          ['max by (instance) (instance:cryptoscalp_decision_slow:ratio_rate1h)', 'decisions > 1 ms {{instance}} (1%)'],
          [
            'max by (instance) (instance:cryptoscalp_persistence_lagging:ratio_avg1h)',
            'time > 1000 entries behind {{instance}} (0.5%)',
          ],
          [
            'max by (instance) (instance:cryptoscalp_feed_stale:ratio_avg1h)',
            'time with a stale feed {{instance}} (0.1%)',
          ],
        ],
        { unit: 'percentunit', width: 24, min: 0 },
      ),
    )
    .withRow(new RowBuilder('Latency and throughput'))
    .withPanel(
      timeseries(
        'Stage latency p99',
        [
          [
            `histogram_quantile(0.99, sum by (le, stage) (rate(cryptoscalp_trader_stage_latency_seconds_bucket{${I}}[$__rate_interval])))`,
            '{{stage}}',
          ],
        ],
        { unit: 's', thresholds: [[0.001, 'red']] },
      ),
    )
    .withPanel(
      timeseries(
        'API requests per second',
        [
          [`sum(rate(cryptoscalp_stats_http_requests{${T}}[$__rate_interval]))`, 'all'],
          [`sum(rate(cryptoscalp_stats_http_responses_4xx{${T}}[$__rate_interval]))`, '4xx'],
          [`sum(rate(cryptoscalp_stats_http_responses_5xx{${T}}[$__rate_interval]))`, '5xx'],
          [`sum(rate(cryptoscalp_stats_http_shed{${T}}[$__rate_interval]))`, 'shed (503)'],
        ],
        { unit: 'reqps', min: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'Market data per second',
        [
          [`sum(rate(cryptoscalp_stats_counters_book_events{${T}}[$__rate_interval]))`, 'book updates'],
          [`sum(rate(cryptoscalp_stats_counters_trade_events{${T}}[$__rate_interval]))`, 'trades'],
          [`sum(rate(cryptoscalp_stats_feed_gaps{${T}}[$__rate_interval]))`, 'gaps'],
          [`sum(rate(cryptoscalp_stats_feed_resyncs{${T}}[$__rate_interval]))`, 'resyncs'],
        ],
        { unit: 'ops', min: 0 },
      ),
    )
    .withPanel(
      timeseries('Journal and PostgreSQL', [
        [`max(cryptoscalp_stats_journal_seq{${T}})`, 'journal sequence'],
        [`max(cryptoscalp_stats_persistence_persisted_seq{${T}})`, 'in PostgreSQL'],
      ]),
    )
    .withRow(new RowBuilder('Dependencies'))
    .withPanel(
      timeseries('PostgreSQL query latency', quantiles('db_client_operation_duration_seconds', I, 'role', '{{role}}'), {
        unit: 's',
      }),
    )
    .withPanel(
      timeseries(
        'PostgreSQL WAL archiving',
        [
          [`max(cryptoscalp_stats_persistence_wal_archive_segments_pending{${T}})`, 'segments waiting'],
          [`max(cryptoscalp_stats_persistence_wal_archive_failing{${T}})`, 'failing (1)'],
          [
            `sum(increase(cryptoscalp_stats_persistence_wal_archive_failures{${T}}[$__rate_interval]))`,
            'failed attempts',
          ],
        ],
        {
          min: 0,
          description:
            "The primary's WAL archiving as the active engine samples it from pg_stat_archiver: segments completed and not archived yet (0-1 when it keeps up), whether the last attempt failed, and failed attempts. Alerts: PostgresWalArchivingFailing, PostgresWalArchiveBehind.",
        },
      ),
    )
    .withPanel(
      timeseries(
        'PostgreSQL base backup age',
        [[`max(cryptoscalp_stats_persistence_wal_archive_last_base_backup_age_seconds{${T}})`, 'newest base backup']],
        {
          unit: 's',
          description:
            "Age of the primary's newest base backup, from the backup history file PostgreSQL keeps in pg_wal while archiving is on (-1: none, or the role may not list pg_wal). Backups run every 6 hours. Alert: PostgresBaseBackupTooOld.",
        },
      ),
    )
    .withPanel(
      timeseries(
        'Cache operations per second',
        [
          [
            `sum by (tier, hit) (rate(cache_operation_duration_seconds_count{${I}}[$__rate_interval]))`,
            '{{tier}} hit={{hit}}',
          ],
        ],
        { unit: 'ops', min: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'Circuit breakers open',
        [[`max by (channel) (cryptoscalp_breaker_state{state="open",${I}})`, '{{channel}}']],
        { min: 0, thresholds: [[1, 'red']] },
      ),
    )
    .withPanel(
      timeseries(
        'Event stream lag',
        [[`max by (instance) (cryptoscalp_stats_event_stream_lag_ms{${T}})`, '{{instance}}']],
        { unit: 'ms', thresholds: [[1000, 'red']], min: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'Feed connections open',
        [[`sum by (exchange) (cryptoscalp_ws_connection_state{state="open",${I}})`, '{{exchange}}']],
        { min: 0 },
      ),
    )
    .withRow(new RowBuilder('Process'))
    .withPanel(
      timeseries(
        'CPU and event loop',
        [
          [`rate(process_cpu_seconds_total{${I}}[$__rate_interval])`, 'CPU {{instance}}'],
          [`nodejs_eventloop_lag_p99_seconds{${I}}`, 'event loop lag p99 {{instance}}'],
        ],
        { unit: 's' },
      ),
    )
    .withPanel(
      timeseries(
        'Memory',
        [
          [`process_resident_memory_bytes{${I}}`, 'RSS {{instance}}'],
          [`nodejs_heap_size_used_bytes{${I}}`, 'heap used {{instance}}'],
        ],
        { unit: 'bytes' },
      ),
    )
    .withRow(new RowBuilder('Logs'))
    .withPanel(
      timeseries(
        'Log lines per second by level',
        [[`sum by (level) (rate(cryptoscalp_log_messages_total{${I}}[$__rate_interval]))`, '{{level}}']],
        { unit: 'ops', min: 0 },
      ),
    )
    .withPanel(
      new LogsPanel()
        .title('Warnings and errors')
        .datasource(DATASOURCES.loki)
        .span(12)
        .height(8)
        .showTime(true)
        .wrapLogMessage(true)
        .sortOrder(common.LogsSortOrder.Descending)
        .withTarget(
          new LokiQuery()
            .datasource(DATASOURCES.loki)
            .expr('{job="cryptoscalp-trader", level=~"warn|error|fatal"}')
            .refId('A'),
        ),
    );
}

function riskExposure(): DashboardBuilder {
  return dashboard(
    'cryptoscalp-risk',
    'CryptoScalp / Risk exposure',
    'Kill switch, drawdown, exposure and risk rejections.',
  )
    .withRow(new RowBuilder('Limits'))
    .withPanel(
      stat('Kill switch', `max(cryptoscalp_stats_trading_state{${T}})`, {
        text: { '0': ['RUNNING', 'green'], '1': ['REDUCING', 'orange'], '2': ['HALTED', 'red'] },
      }),
    )
    .withPanel(
      stat('Drawdown', `max(cryptoscalp_stats_pnl_drawdown{${T}})`, {
        unit: 'currencyUSD',
        thresholds: [
          [240, 'orange'],
          [300, 'red'],
        ],
        description: 'From the equity peak; REDUCING at risk.maxDrawdown (300 by default), alert at 80%.',
      }),
    )
    .withPanel(
      stat('Gross exposure', `sum(abs(cryptoscalp_trading_exposure{${I}}))`, {
        unit: 'currencyUSD',
        description: 'Sum of absolute position notionals at mark.',
      }),
    )
    .withPanel(stat('Open orders', `sum(cryptoscalp_stats_event_stream_model_open_orders{${T}})`))
    .withRow(new RowBuilder('Exposure'))
    .withPanel(
      timeseries('Exposure by symbol', [[`sum by (symbol) (cryptoscalp_trading_exposure{${I}})`, '{{symbol}}']], {
        unit: 'currencyUSD',
        thresholds: [[5000, 'red']],
        description: 'Signed notional at mark; risk.maxPositionNotional is 5000 per symbol by default.',
      }),
    )
    .withPanel(
      timeseries(
        'Drawdown and unrealized PnL',
        [
          [`max by (instance) (cryptoscalp_stats_pnl_drawdown{${T}})`, 'drawdown {{instance}}'],
          [`sum by (instance) (cryptoscalp_stats_pnl_unrealized{${T}})`, 'unrealized {{instance}}'],
        ],
        {
          unit: 'currencyUSD',
          thresholds: [
            [240, 'orange'],
            [300, 'red'],
          ],
        },
      ),
    )
    .withRow(new RowBuilder('Risk engine'))
    .withPanel(
      timeseries(
        'Order intents and risk rejections per second',
        [
          [`sum(rate(cryptoscalp_stats_counters_intents{${T}}[$__rate_interval]))`, 'intents'],
          [`sum(rate(cryptoscalp_stats_counters_risk_rejected{${T}}[$__rate_interval]))`, 'rejected by risk'],
        ],
        { unit: 'ops', min: 0 },
      ),
    )
    .withPanel(
      timeseries('Kill switch state', [[`max by (instance) (cryptoscalp_stats_trading_state{${T}})`, '{{instance}}']], {
        min: 0,
        thresholds: [
          [1, 'orange'],
          [2, 'red'],
        ],
        description: '0 RUNNING, 1 REDUCING, 2 HALTED.',
      }),
    );
}

function modelPerformance(): DashboardBuilder {
  return dashboard(
    'cryptoscalp-model',
    'CryptoScalp / ML model performance',
    "The scalping strategy's online model: hit rate, predictions, inference latency.",
  )
    .withRow(new RowBuilder('Quality'))
    .withPanel(stat('Hit ratio (run)', `avg(cryptoscalp_model_hit_ratio{${I}})`, { unit: 'percentunit' }))
    .withPanel(
      stat(
        'Hit ratio (15m)',
        `sum(increase(cryptoscalp_model_predictions_total{outcome="hit",${I}}[15m])) / sum(increase(cryptoscalp_model_predictions_total{${I}}[15m]))`,
        { unit: 'percentunit', description: 'Confident predictions whose direction the horizon confirmed.' },
      ),
    )
    .withPanel(stat('Win ratio', `avg(cryptoscalp_trading_win_ratio{${I}})`, { unit: 'percentunit' }))
    .withPanel(
      stat(
        'Inference p99 (5m)',
        `max(histogram_quantile(0.99, sum by (le, instance) (rate(cryptoscalp_model_inference_duration_seconds_bucket{${I}}[5m]))))`,
        {
          unit: 's',
        },
      ),
    )
    .withPanel(
      timeseries(
        'Predictions per second by outcome',
        [
          [
            `sum by (model, outcome) (rate(cryptoscalp_model_predictions_total{${I}}[$__rate_interval]))`,
            '{{model}} {{outcome}}',
          ],
        ],
        { unit: 'ops', min: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'Hit ratio over time',
        [
          [
            `sum by (model) (rate(cryptoscalp_model_predictions_total{outcome="hit",${I}}[$__rate_interval])) / sum by (model) (rate(cryptoscalp_model_predictions_total{${I}}[$__rate_interval]))`,
            '{{model}}',
          ],
        ],
        { unit: 'percentunit', thresholds: [[0.5, 'green']] },
      ),
    )
    .withRow(new RowBuilder('Cost'))
    .withPanel(
      timeseries(
        'Inference latency',
        quantiles('cryptoscalp_model_inference_duration_seconds', I, 'model', '{{model}}'),
        { unit: 's' },
      ),
    )
    .withPanel(
      timeseries(
        'Decisions and intents per second',
        [
          [`sum(rate(cryptoscalp_stats_counters_decisions{${T}}[$__rate_interval]))`, 'decisions'],
          [`sum(rate(cryptoscalp_stats_counters_intents{${T}}[$__rate_interval]))`, 'order intents'],
          [`sum(rate(cryptoscalp_model_inference_duration_seconds_count{${I}}[$__rate_interval]))`, 'inferences'],
        ],
        { unit: 'ops', min: 0 },
      ),
    );
}

/** The four dashboards, by file name (without `.json`). */
export function buildDashboards(): Record<string, Dashboard> {
  const builders: Record<string, cog.Builder<Dashboard>> = {
    'trading-performance': tradingPerformance(),
    'system-health': systemHealth(),
    'risk-exposure': riskExposure(),
    'ml-model-performance': modelPerformance(),
  };
  return Object.fromEntries(Object.entries(builders).map(([name, b]) => [name, b.build()]));
}

/** The file text of a dashboard as committed (stable key order from the builder, two-space indent). */
export function dashboardJson(d: Dashboard): string {
  return `${JSON.stringify(d, null, 2)}\n`;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [name, d] of Object.entries(buildDashboards())) {
    writeFileSync(`${DASHBOARDS_DIR}${name}.json`, dashboardJson(d));
    console.log(`wrote ${DASHBOARDS_DIR}${name}.json`);
  }
}
