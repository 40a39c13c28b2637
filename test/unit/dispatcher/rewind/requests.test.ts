import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BrokerError } from '../../../../core/errors.js';
import { silentLogger } from '../../../../core/logger.js';
import { ContractRewinds } from '../../../../dispatcher/rewind/requests.js';
import type { RewindAnswer, Rewinder, RewindRequest } from '../../../../dispatcher/rewind/service.js';
import { makeBroker, makeContract, makeEgress } from '../../../helpers/builders.js';
import { waitUntil } from '../../../helpers/wait.js';

/** A Rewinder stand-in that answers from a script (the real one is exercised by dispatch-rewind and k8s-rewind). */
function scripted(answers: (() => RewindAnswer)[]): { rewinder: Rewinder; calls: RewindRequest[] } {
  const calls: RewindRequest[] = [];
  const rewinder = { rewind: async (request: RewindRequest) => { calls.push(request); return answers.shift()!(); } } as unknown as Rewinder;
  return { rewinder, calls };
}

const answer: RewindAnswer = { trigger: 'default/t', consumerGroup: 'g', dryRun: false, to: 'earliest', moves: [{ topic: 'x', partition: 0, current: '4', target: '0', redelivered: 4, skipped: 0 }], redelivered: 4, skipped: 0 };
const contractWith = (id: string, generation: number) => makeContract([makeBroker('b', [makeEgress('t', { rewind: { id, kind: 'rewind', to: 'earliest', who: 'kubectl-annotate' } })])], generation);

test('ContractRewinds: each id once, however often the contract carries it; transient refusals retried; the outcome per group', async () => {
  const busy = (): RewindAnswer => { throw new BrokerError('GROUP_BUSY', 'rebalancing'); };
  const { rewinder, calls } = scripted([busy, () => answer]);
  let changes = 0;
  const rewinds = new ContractRewinds(rewinder, silentLogger(), () => changes++, () => Date.parse('2026-12-04T10:00:00Z'), 3, 1);
  rewinds.apply(contractWith('a', 5));
  rewinds.apply(contractWith('a', 6));
  const group = makeEgress('t').consumerGroup;
  await waitUntil(() => rewinds.snapshot().has(group), { timeoutMs: 30_000, message: 'the outcome' });
  await rewinds.close();
  assert.equal(calls.length, 2, 'a busy group is tried again; the same id is not started twice');
  assert.deepEqual(calls[0], { namespace: 'default', name: 't', mode: 'rewind', to: 'earliest', dryRun: false, confirm: true, who: 'kubectl-annotate' });
  assert.deepEqual(rewinds.snapshot().get(group), [{ id: 'a', kind: 'rewind', who: 'kubectl-annotate', generation: 5, state: 'done', at: '2026-12-04T10:00:00.000Z', to: 'earliest', from: '0:4', redelivered: 4, skipped: 0 }]);
  assert.equal(changes, 1);
});

test('ContractRewinds: a refusal that will not pass is a failed outcome with its message', async () => {
  const { rewinder } = scripted([() => { throw new BrokerError('INVALID_REQUEST', 'topic x has no partition 9'); }]);
  const rewinds = new ContractRewinds(rewinder, silentLogger(), () => undefined, () => 0, 3, 1);
  rewinds.apply(contractWith('b', 2));
  await rewinds.close();
  const [outcome] = rewinds.snapshot().get(makeEgress('t').consumerGroup)!;
  assert.equal(outcome!.state, 'failed');
  assert.equal(outcome!.message, 'topic x has no partition 9');
});
