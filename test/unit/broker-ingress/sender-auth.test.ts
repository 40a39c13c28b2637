import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { filtersRefusing, rulesAllowing } from '../../../broker-ingress/sender-auth.js';
import { entryFor, type SenderPolicy } from '../../../broker-ingress/ingress-table.js';
import type { CloudEvent } from '../../../core/cloudevents/event.js';
import type { Resource, SenderRule } from '../../../core/contract/types.js';
import { makeBroker } from '../../helpers/builders.js';

const event = (type: string): CloudEvent => ({ attributes: { specversion: '1.0', id: 'e1', source: '/s', type } });

/** The rules as the ingress runs them: through the ingress table, filters compiled. */
function compiled(senders: SenderRule[]): readonly SenderPolicy[] {
  const broker = makeBroker('b', [], {}, 'ns');
  const resource: Resource = { ...broker, ingress: { ...broker.ingress!, audience: 'aud', senders } };
  return entryFor(resource)!.senders!;
}

describe('rulesAllowing', () => {
  const rules: SenderRule[] = [
    { policy: 'ns/team', subjects: ['system:serviceaccount:ns:*'] },
    { policy: 'ns/exact', subjects: ['system:serviceaccount:other:bot'] },
  ];
  const cases: [string, SenderRule[] | undefined, string, string[] | 'no-policies'][] = [
    ['no policies select the resource', undefined, 'anyone', 'no-policies'],
    ['a prefix', rules, 'system:serviceaccount:ns:app', ['ns/team']],
    ['an exact subject', rules, 'system:serviceaccount:other:bot', ['ns/exact']],
    ['exact is not a prefix', rules, 'system:serviceaccount:other:bot2', []],
    ['policies that select the resource and allow nobody', [], 'system:serviceaccount:ns:app', []],
  ];
  for (const [name, given, subject, expected] of cases) {
    test(name, () => {
      const allowing = rulesAllowing(given, subject);
      assert.deepEqual(allowing === 'no-policies' ? allowing : allowing.map((r) => r.policy), expected);
    });
  }
});

describe('filtersRefusing (EventPolicy spec.filters)', () => {
  const orders: SenderRule = { policy: 'ns/orders', subjects: ['*'], filter: { kind: 'all', filters: [{ kind: 'prefix', attributes: { type: 'com.example.order.' } }] } };
  const refunds: SenderRule = { policy: 'ns/refunds', subjects: ['*'], filter: { kind: 'all', filters: [{ kind: 'cesql', expression: "type = 'com.example.refund'" }] } };
  const open: SenderRule = { policy: 'ns/open', subjects: ['*'] };
  const broken: SenderRule = { policy: 'ns/broken', subjects: ['*'], filter: { kind: 'cesql', expression: 'type = ' } };
  const cases: [string, SenderRule[], string, string[] | undefined][] = [
    ['passes its policy\'s filter', [orders], 'com.example.order.created', undefined],
    ['refused by the only policy', [orders], 'com.example.refund', ['ns/orders']],
    ['passes one of two policies', [orders, refunds], 'com.example.refund', undefined],
    ['refused by both, both named', [orders, refunds], 'com.example.other', ['ns/orders', 'ns/refunds']],
    ['a policy without filters allows any event', [orders, open], 'com.example.other', undefined],
    ['a filter that does not compile refuses (fails closed)', [broken], 'com.example.order.created', ['ns/broken']],
  ];
  for (const [name, rules, type, expected] of cases) {
    test(name, () => {
      assert.deepEqual(filtersRefusing(compiled(rules), event(type)), expected);
    });
  }
});
