// bench/compare.mjs: the same queries with minispark (2 executors) and
// DuckDB (threads = 2) on the same generated file, alternating runs,
// checking that both give the same rows, and printing medians and the
// time ratio. minispark runs with the lz4 shuffle codec. Usage:
// node bench/compare.mjs MINISPARK FILE [RUNS]
import { DuckDBInstance } from '@duckdb/node-api';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const [binary, file, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 5);
const csv = resolve(file);
const schema = "{'event_id':'BIGINT','event_time':'TIMESTAMP'," +
               "'country':'VARCHAR','device':'VARCHAR','amount':'DECIMAL(18,2)'}";
const source = `read_csv('${csv}', header=true, columns=${schema})`;

const queries = [
  {
    name: 'Q1: group by country, device; count; sum(amount) (amount >= 10)',
    sql: `SELECT country, device, count(*) AS event_count,
                 sum(amount) AS total_amount
          FROM ${source} WHERE amount >= 10 GROUP BY country, device
          ORDER BY total_amount DESC, country, device, event_count LIMIT 100`,
    query: {
      filter: [{ column: 'amount', op: '>=', value: 10 }],
      group_by: ['country', 'device'],
      aggregates: [{ fn: 'count', as: 'event_count' },
                   { fn: 'sum', column: 'amount', as: 'total_amount' }],
      order_by: [{ column: 'total_amount', desc: true }], limit: 100,
    },
  },
  {
    name: 'Q2: group by event_id % 1000003; count; sum(amount)',
    sql: `SELECT event_id % 1000003 AS k, count(*) AS n, sum(amount) AS s
          FROM ${source} GROUP BY k ORDER BY s DESC, k, n LIMIT 100`,
    query: {
      group_by: [{ column: 'event_id', mod: 1000003, as: 'k' }],
      aggregates: [{ fn: 'count', as: 'n' },
                   { fn: 'sum', column: 'amount', as: 's' }],
      order_by: [{ column: 's', desc: true }], limit: 100,
    },
  },
];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const work = mkdtempSync(join(tmpdir(), 'minispark-compare-'));

function runMinispark(q) {
  const job = join(work, 'job.json'), out = join(work, 'out.csv');
  writeFileSync(job, JSON.stringify({
    input: { path: csv }, query: q.query, shuffle_partitions: 8,
    // lz4 is Spark's default shuffle codec (ours stays zlib, see DESIGN.md).
    conf: { 'spark.executor.instances': '2',
            'spark.io.compression.codec': 'lz4' },
  }));
  const t0 = performance.now();
  execFileSync(binary, ['run', job, '--master', 'local[2]', '--quiet',
                        '--no-ui', '--output', out]);
  const secs = (performance.now() - t0) / 1000;
  const rows = readFileSync(out, 'utf8').trim().split('\n').slice(1);
  return { secs, rows };
}

async function runDuck(con, q) {
  const t0 = performance.now();
  const r = await con.runAndReadAll(q.sql);
  const secs = (performance.now() - t0) / 1000;
  return { secs, rows: r.getRowsJson().map((row) => row.join(',')) };
}

const inst = await DuckDBInstance.create(':memory:', { threads: '2' });
const con = await inst.connect();
let failed = false;
console.log(`minispark vs DuckDB ${(await (await con.runAndReadAll(
  'SELECT version()')).getRowsJson())[0][0]}: ${csv}, ${runs} runs each, ` +
  'alternating; minispark local[2] with 2 executors, DuckDB threads=2');
for (const q of queries) {
  const ms = [], dk = [];
  for (let i = 0; i < runs; i++) {
    const a = runMinispark(q), b = await runDuck(con, q);
    ms.push(a.secs);
    dk.push(b.secs);
    if (a.rows.join('\n') !== b.rows.join('\n')) {
      failed = true;
      console.log(`${q.name}: results differ\n  minispark: ${a.rows.slice(0, 3)}` +
                  `\n  duckdb:    ${b.rows.slice(0, 3)}`);
    }
  }
  const m = median(ms), d = median(dk);
  console.log(`${q.name}\n  minispark median ${m.toFixed(2)} s ` +
              `[${ms.map((x) => x.toFixed(2)).join(' ')}], DuckDB median ` +
              `${d.toFixed(2)} s [${dk.map((x) => x.toFixed(2)).join(' ')}], ` +
              `ratio ${(m / d).toFixed(2)}, same rows: ${!failed}`);
}
rmSync(work, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
