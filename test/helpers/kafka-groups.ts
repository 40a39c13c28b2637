import type { Admin } from 'kafkajs';

/**
 * Watches a shared Kafka for consumer groups joined by one client id (prefix), by polling
 * ListGroups and DescribeGroups until stopped. The test Kafka is shared with other test runs, so
 * "no new group appeared" alone would blame them; a member's client id says the group was ours.
 */
export function watchGroupsJoinedBy(admin: Admin, clientIdPrefix: string, everyMs = 50): { stop(): Promise<string[]> } {
  const joined = new Set<string>();
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
        if (groups.length > 0) {
          const described = await admin.describeGroups(groups);
          for (const g of described.groups) if (g.members.some((m) => m.clientId.startsWith(clientIdPrefix))) joined.add(g.groupId);
        }
      } catch {
        // A group deleted between the two calls: look again next round.
      }
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return [...joined];
    },
  };
}
