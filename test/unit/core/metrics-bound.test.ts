import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { BoundHistogram, BufferedCounter } from '../../../core/metrics-bound.js';

/**
 * The bound metrics must read exactly as prom-client's own: the same observations into a
 * prom-client metric and into ours, each in its own registry, give the same text and JSON.
 */

const BUCKETS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000];
const LABELS = ['ns', 'name', 'type', 'code'] as const;
type L = (typeof LABELS)[number];

function pair(defaultLabels?: Record<string, string>): { ours: Registry; theirs: Registry } {
  const ours = new Registry();
  const theirs = new Registry();
  if (defaultLabels !== undefined) {
    ours.setDefaultLabels(defaultLabels);
    theirs.setDefaultLabels(defaultLabels);
  }
  return { ours, theirs };
}

describe('BoundHistogram reads as a prom-client Histogram', () => {
  const cases: { name: string; observations: [Partial<Record<L, string>>, number][]; defaultLabels?: Record<string, string> }[] = [
    { name: 'nothing observed', observations: [] },
    { name: 'one series, values on, between and past the bounds', observations: [[{ ns: 'a', name: 'b', code: '202' }, 0], [{ ns: 'a', name: 'b', code: '202' }, 1], [{ ns: 'a', name: 'b', code: '202' }, 1.5], [{ ns: 'a', name: 'b', code: '202' }, 10_000], [{ ns: 'a', name: 'b', code: '202' }, 12_345.5]] },
    { name: 'several series, labels given in another order, one label left out', observations: [[{ code: '500', ns: 'x', name: 'y' }, 3], [{ ns: 'x', name: 'y', type: 't', code: '200' }, 7.25], [{ name: 'y', ns: 'x', code: '500' }, 40]] },
    { name: 'label values that need escaping', observations: [[{ ns: 'q"uote', name: 'back\\slash', type: 'new\nline', code: '202' }, 2]] },
    { name: 'with default labels', observations: [[{ ns: 'a', code: '202' }, 2]], defaultLabels: { component: 'broker-ingress' } },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const { ours, theirs } = pair(c.defaultLabels);
      const bound = new BoundHistogram<L>({ name: 'h_ms', help: 'help', labelNames: LABELS, buckets: BUCKETS, registers: [ours] });
      const plain = new Histogram<L>({ name: 'h_ms', help: 'help', labelNames: LABELS, buckets: BUCKETS, registers: [theirs] });
      // Bound and never observed: no series, on either side.
      bound.child({ ns: 'unused' });
      plain.labels({ ns: 'unused' });
      for (const [labels, value] of c.observations) {
        bound.child(labels).observe(value);
        plain.labels(labels).observe(value);
      }
      assert.equal(await ours.metrics(), await theirs.metrics());
      assert.deepEqual(await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON());
    });
  }

  test('labels(), observe(labels, value) and child() share one series; reset and remove empty it', async () => {
    const { ours } = pair();
    const h = new BoundHistogram<L>({ name: 'h_ms', help: 'help', labelNames: LABELS, buckets: BUCKETS, registers: [ours] });
    h.labels({ ns: 'a' }).observe(1);
    h.observe({ ns: 'a' }, 2);
    h.child({ ns: 'a' }).observe(3);
    h.labels('a').observe(4);
    assert.equal(h.child({ ns: 'a' }), h.child({ ns: 'a' }));
    assert.equal(h.child({ code: 202 }), h.child({ code: '202' }), 'a number and its text are one value');
    assert.match(await ours.metrics(), /^h_ms_count\{ns="a"\} 4$/m);
    assert.match(await ours.metrics(), /^h_ms_sum\{ns="a"\} 10$/m);
    assert.doesNotMatch(await ours.metrics(), /code="202"/, 'bound and never observed: not listed, as with prom-client');
    h.zero({ code: '204' });
    assert.match(await ours.metrics(), /^h_ms_count\{code="204"\} 0$/m, 'zeroed: listed');
    h.remove({ ns: 'a' });
    h.remove({ code: '204' });
    assert.doesNotMatch(await ours.metrics(), /h_ms_count/);
    h.child({ ns: 'b' }).observe(1);
    h.reset();
    assert.doesNotMatch(await ours.metrics(), /h_ms_count/);
  });

  test('a label name it was not given, or a value that is not finite, is an error', () => {
    const h = new BoundHistogram<L>({ name: 'h_ms', help: 'help', labelNames: LABELS, buckets: BUCKETS, registers: [] });
    assert.throws(() => h.child({ nope: 'x' } as never), /label "nope" is not one of h_ms's/);
    assert.throws(() => h.child({}).observe(NaN), /not a finite number/);
  });
});

describe('BufferedCounter reads as a prom-client Counter', () => {
  test('bound increments show at the next read, with the plain ones', async () => {
    const { ours, theirs } = pair();
    const names = ['ns', 'outcome'] as const;
    const buffered = new BufferedCounter({ name: 'c_total', help: 'help', labelNames: names, registers: [ours] });
    const plain = new Counter({ name: 'c_total', help: 'help', labelNames: names, registers: [theirs] });
    const delivered = buffered.bind({ ns: 'a', outcome: 'delivered' });
    buffered.bind({ ns: 'a', outcome: 'filtered' }); // bound, never counted: no series, as with prom-client
    assert.equal(buffered.bind({ ns: 'a', outcome: 'delivered' }), delivered);
    delivered.inc();
    delivered.inc(2);
    buffered.inc({ ns: 'b', outcome: 'delivered' });
    plain.labels({ ns: 'a', outcome: 'delivered' }).inc(3);
    plain.labels({ ns: 'b', outcome: 'delivered' }).inc();
    plain.labels({ ns: 'a', outcome: 'filtered' });
    // Series come in the order they were first counted: bound ones at the read.
    const lines = async (registry: Registry): Promise<string[]> => (await registry.metrics()).split('\n').sort();
    assert.deepEqual(await lines(ours), await lines(theirs));
    delivered.inc();
    plain.labels({ ns: 'a', outcome: 'delivered' }).inc();
    assert.deepEqual(await lines(ours), await lines(theirs));
    assert.throws(() => delivered.inc(-1), /only goes up/);
  });
});
