// A real etcd + kube-apiserver with crds/ applied, for development; runs until Ctrl-C.
//
//   npx tsx scripts/kube/main.ts           start, print KUBECONFIG=..., wait for Ctrl-C
//   npx tsx scripts/kube/main.ts --build   only build (or find) the binaries (and kustomize) and print their paths
//
// KUBE_APISERVER_BIN, ETCD_BIN and KUSTOMIZE_BIN name existing binaries to use instead of the cached builds.
import { ensureKubeBinaries, ensureKustomize, KubeBuildError } from './build.js';
import { KubeStartError, startKubeApiServer } from './kube.js';

const log = (line: string): void => console.error(line);

async function main(argv: readonly string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log('usage: tsx scripts/kube/main.ts [--build]');
    return;
  }
  if (argv.includes('--build')) {
    const binaries = await ensureKubeBinaries({ env: process.env, onProgress: log });
    console.log(`KUBE_APISERVER_BIN=${binaries.kubeApiServer}`);
    console.log(`ETCD_BIN=${binaries.etcd}`);
    console.log(`KUSTOMIZE_BIN=${await ensureKustomize({ env: process.env, onProgress: log })}`);
    return;
  }

  const started = Date.now();
  const kube = await startKubeApiServer({ env: process.env, onProgress: log });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`KUBECONFIG=${kube.kubeconfigPath}`);
  log(`kube-apiserver is up at ${kube.url} after ${seconds} s, with crds/ Established.`);
  log(`  export KUBECONFIG=${kube.kubeconfigPath}   # admin, system:masters`);
  log(`  CA: ${kube.caFile}; logs: ${kube.logFiles.apiServer}, ${kube.logFiles.etcd}`);
  log(`Ctrl-C (or kill ${process.pid}) stops it and deletes its data.`);

  // The server processes are unref'd on purpose, so something must hold the event loop open.
  const keepAlive = setInterval(() => {}, 1 << 30);
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) return; // a second Ctrl-C while stopping must not skip the cleanup
    stopping = true;
    log(`${signal}: stopping kube-apiserver and etcd`);
    kube.stop().then(
      () => {
        clearInterval(keepAlive);
        process.exit(0);
      },
      (error: unknown) => {
        log(`error while stopping: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  void kube.crashed.then(async (report) => {
    log(`error: ${report}`);
    await kube.stop();
    process.exit(1);
  });
}

main(process.argv.slice(2)).catch((error: unknown) => {
  // Expected failures are one line (plus a log tail); anything else is a bug, so keep the stack.
  if (error instanceof KubeStartError || error instanceof KubeBuildError) log(`error: ${error.message}`);
  else console.error(error);
  process.exit(1);
});
