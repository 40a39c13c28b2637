import type { KnObject } from '../../../controller/resources.js';
import { knObject } from './fixtures.js';

/** Builders for the channel and subscription tables: objects as a source hands them over. */

export const kafkaChannel = (name: string, spec: Record<string, unknown> = {}, generation = 1): KnObject =>
  knObject('messaging.knative.dev/v1beta1', 'KafkaChannel', name, { spec }, { generation });
export const inMemoryChannel = (name: string, spec: Record<string, unknown> = {}): KnObject => knObject('messaging.knative.dev/v1', 'InMemoryChannel', name, { spec });
export const channel = (name: string, spec?: Record<string, unknown>, generation = 1): KnObject =>
  knObject('messaging.knative.dev/v1', 'Channel', name, spec === undefined ? {} : { spec }, { generation });
