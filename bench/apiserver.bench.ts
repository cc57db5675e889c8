/**
 * What the seed is about, measured on real apiservers: three kube-apiservers 1.34 (run from
 * kubeadm's manifests) on one real 3-member etcd, behind a real HAProxy (Debian's) on the VIP,
 * with a client load through the VIP (request loops, a writer, a watch: bench/apiserverLoad.ts,
 * run inside the test network); each apiserver restarted in turn the way a kubelet swaps a
 * static pod (SIGTERM, wait for the process to exit, start the new one), the next one only once
 * the previous is ready and back in the pool. Everything on the test control plane's private
 * network (tests/helpers/controlPlane; STAND-IN kubelet).
 *
 * Scenarios, all in one run:
 *   single apiserver      the seed's single master: clients straight at one apiserver, restarted;
 *   kubeadm docs LB       the three behind the haproxy.cfg of kubeadm's HA docs (its timings);
 *   this project's LB     the three behind the config topology/loadBalancer.ts renders;
 * each first with kubeadm's default apiserver flags, then with this project's shutdown flags
 * (controlPlaneFlags.apiserverShutdown), put on every master the phase 1.5 way:
 * scripts/cluster/control-plane-flags.sh as FlagParity ships it, through kubeadm-config and
 * kubeadm's regenerated manifests.
 * Printed per scenario: failed requests (and those client-go would not have retried), the
 * longest gap between two events the watch delivered, the time from the first SIGTERM to the
 * first failed request. Last line:
 *   restart_failed=<n> restart_watch_gap_ms=<n> baseline_single_failed=<n> baseline_single_gap_ms=<n> docs_lb_failed=<n>
 *
 *   npm run bench:apiserver      (bounded: gives up after 25 min; about 10 min on 2 busy cores)
 */
import { mkdirSync, readFileSync, writeFileSync } from "fs";
import * as path from "path";
import { parse } from "yaml";
import { flagsArgs, flagsScriptBundle } from "../components/clusterOps/flagParity";
import { pins } from "../toolchain";
import { declaredFlags, DEFAULT_HEALTH_CHECK_TIMINGS, KUBEADM_DOCS_HEALTH_CHECK_TIMINGS, poolServer, Topology } from "@ha-control-plane/topology";
import { testTopology } from "../tests/controlPlane/helpers/topology";
import { APISERVER_PORT, ControlPlane, Master, TEST_VIP } from "../tests/helpers/controlPlane/controlPlane";
import { LanHaproxy, projectHaproxyConfig, startLanHaproxy, waitUp } from "../tests/helpers/controlPlane/loadBalancer";
import { sleep } from "../tests/helpers/controlPlane/processes";
import { kubeadmDocsConfig } from "../tests/fixtures/loadBalancer/kubeadmDocs";
import type { LoadConfig, LoadRecord } from "./apiserverLoad";

type Json = Record<string, any>;

const NAMESPACE = "bench";
const CONFIGMAP = "ticker";
/** Load before the first restart and after the last one is back. */
const WARMUP_MS = 4000;
const SETTLE_MS = 3000;

/** The flags phase 1.5 declares for a graceful apiserver restart, alone (no OIDC issuer or audit log here). */
function shutdownTopology(): Topology {
    return testTopology("1.5", (raw) => {
        const { apiserverShutdown } = raw.controlPlaneFlags;
        raw.controlPlaneFlags = { apiserverShutdown, healthTimeoutSeconds: 300 };
    });
}

function docsConfig(cp: ControlPlane): string {
    return kubeadmDocsConfig("__DIR__", APISERVER_PORT, cp.masters.map((m) => poolServer(m, APISERVER_PORT)), false, TEST_VIP);
}

/** Client certificate files from admin.conf, for the load process. */
function clientFiles(cp: ControlPlane): { ca: string; cert: string; key: string } {
    const conf = parse(readFileSync(path.join(cp.first.host.kubernetesDir, "admin.conf"), "utf8")) as Json;
    const dir = path.join(cp.dir, "client");
    mkdirSync(dir, { recursive: true });
    const files = { ca: path.join(dir, "ca.crt"), cert: path.join(dir, "client.crt"), key: path.join(dir, "client.key") };
    writeFileSync(files.ca, Buffer.from(conf.clusters[0].cluster["certificate-authority-data"], "base64"));
    writeFileSync(files.cert, Buffer.from(conf.users[0].user["client-certificate-data"], "base64"));
    writeFileSync(files.key, Buffer.from(conf.users[0].user["client-key-data"], "base64"), { mode: 0o600 });
    return files;
}

interface ScenarioResult {
    readonly label: string;
    readonly flags: string;
    readonly total: number;
    /** Failed on the wire, no retries: over HTTP/2 and over HTTP/1.1 keep-alive. */
    readonly failedH2: number;
    readonly failedH1: number;
    /** Of those, what a client-go client would still see after its own retries. */
    readonly clientGoFailed: number;
    readonly errors: string;
    readonly watchGapMs: number;
    /** What ended the watch's streams in the window, and what preceded the longest gap. */
    readonly watchBreaks: string[];
    readonly gapContext: string;
    readonly firstErrorMs: number | undefined;
    readonly restartMs: number[];
}

function summarize(label: string, flags: string, record: LoadRecord, marks: readonly { master: string; sigterm: number }[], end: number, restartMs: number[]): ScenarioResult {
    const firstSigterm = marks[0].sigterm;
    const inWindow = record.requests.filter((r) => r.start >= firstSigterm && r.start <= end);
    const failed = inWindow.filter((r) => !r.ok);
    const kind = (f: (typeof failed)[number]) => (f.status !== undefined ? `HTTP ${f.status}` : (f.error ?? "?"));
    const kinds = new Map<string, number>();
    for (const f of failed) kinds.set(kind(f), (kinds.get(kind(f)) ?? 0) + 1);
    const events = [firstSigterm, ...record.watch.events.filter((t) => t >= firstSigterm && t <= end), end];
    let gap = 0;
    let gapAt = firstSigterm;
    for (let i = 1; i < events.length; i++) {
        if (events[i] - events[i - 1] > gap) {
            gap = events[i] - events[i - 1];
            gapAt = events[i - 1];
        }
    }
    const since = (t: number) => {
        const m = [...marks].reverse().find((x) => x.sigterm <= t);
        return m ? `${((t - m.sigterm) / 1000).toFixed(1)} s after ${m.master}'s SIGTERM` : "before the first SIGTERM";
    };
    const breaks = record.watch.breaks.filter((b) => b.at >= firstSigterm && b.at <= end);
    const writes = inWindow.filter((r) => r.loop === "write" && r.start >= gapAt - 200 && r.start <= gapAt + gap);
    return {
        label,
        flags,
        total: inWindow.length,
        failedH2: failed.filter((f) => f.protocol === "h2").length,
        failedH1: failed.filter((f) => f.protocol === "h1").length,
        clientGoFailed: failed.filter((f) => !f.retryable).length,
        errors: [...kinds].map(([k, n]) => `${n} ${k}`).join(", ") || "-",
        watchGapMs: gap,
        watchBreaks: breaks.map((b) => `${b.why} ${since(b.at)}`),
        gapContext: `from ${since(gapAt)}; ${writes.length} writes then, ${writes.filter((w) => !w.ok).length} failed, slowest ${Math.max(0, ...writes.map((w) => w.end - w.start))} ms`,
        firstErrorMs: failed.length ? Math.min(...failed.map((f) => f.start)) - firstSigterm : undefined,
        restartMs,
    };
}

async function scenario(cp: ControlPlane, label: string, flags: string, target: { host: string; lb?: LanHaproxy }, restart: readonly Master[]): Promise<ScenarioResult> {
    const dir = path.join(cp.dir, `load-${label.replace(/\W+/g, "-")}-${flags.replace(/\W+/g, "-")}`);
    mkdirSync(dir, { recursive: true });
    const config: LoadConfig = {
        host: target.host,
        port: APISERVER_PORT,
        ...clientFiles(cp),
        namespace: NAMESPACE,
        configMap: CONFIGMAP,
        loops: 2,
        pauseMs: 20,
        writeEveryMs: 100,
        results: path.join(dir, "results.json"),
        maxMs: 600_000,
    };
    writeFileSync(path.join(dir, "config.json"), JSON.stringify(config));
    const load = cp.spawnInLan(`load ${label}`, [process.execPath, "-r", require.resolve("tsx/cjs"), path.join(__dirname, "apiserverLoad.ts"), path.join(dir, "config.json")], path.join(dir, "load.log"));
    const restartMs: number[] = [];
    const marks: { master: string; sigterm: number }[] = [];
    let end = 0;
    try {
        await sleep(WARMUP_MS);
        for (const m of restart) {
            const t0 = Date.now();
            marks.push({ master: m.name, sigterm: t0 });
            await m.kubelet.restart("kube-apiserver");
            await cp.waitReady(m);
            if (target.lb) await waitUp(target.lb, m.name);
            restartMs.push(Date.now() - t0);
            await sleep(SETTLE_MS);
        }
    } finally {
        // The window ends when the load is told to stop, not once it has written its record.
        end = Date.now();
        await load.stop(15_000);
    }
    const record = JSON.parse(readFileSync(config.results, "utf8")) as LoadRecord;
    const result = summarize(label, flags, record, marks, end, restartMs);
    process.stderr.write(
        `  ${label}, ${flags}: ${result.failedH2 + result.failedH1} of ${result.total} failed (${result.errors}), client-go would see ${result.clientGoFailed}; ` +
            `longest watch gap ${result.watchGapMs} ms ${result.gapContext}; watch streams ended: ${result.watchBreaks.join("; ") || "none"}\n`,
    );
    return result;
}

/** Phase 1.5 on every master: control-plane-flags.sh as FlagParity ships it, with the declared shutdown flags. */
async function applyShutdownFlags(cp: ControlPlane, topology: Topology): Promise<string> {
    const declared = declaredFlags(topology.clusterOps.controlPlaneFlags);
    const script = flagsScriptBundle();
    for (const m of cp.masters) {
        const master = topology.masters.find((x) => x.name === m.name)!;
        const run = await cp.shipped(m, script, flagsArgs("apply", topology, master, declared), { env: { HACP_POLL_SECONDS: "1" } });
        if (run.code !== 0) throw new Error(`control-plane-flags.sh apply on ${m.name} exited ${run.code}:\n${run.stdout}${run.stderr}`);
        await cp.waitReady(m);
    }
    return Object.entries(declared.apiServer).map(([k, v]) => `--${k}=${v}`).join(" ");
}

const row = (cells: readonly (string | number)[]): string => `| ${cells.join(" | ")} |`;

async function main(): Promise<void> {
    const started = Date.now();
    const cp = await ControlPlane.start({ masters: 3 });
    running.add(cp);
    try {
        await cp.kubectlOk(["create", "namespace", NAMESPACE]);
        await cp.kubectlOk(["-n", NAMESPACE, "create", "configmap", CONFIGMAP, "--from-literal=n=0"]);
        const results: ScenarioResult[] = [];
        const all = cp.masters;

        const round = async (flags: string) => {
            results.push(await scenario(cp, "single apiserver", flags, { host: cp.first.ip }, [cp.first]));
            const docs = await startLanHaproxy(cp, `docs-${flags.length}`, docsConfig(cp), "apiserverbackend");
            results.push(await scenario(cp, "kubeadm docs LB", flags, { host: TEST_VIP, lb: docs }, all));
            await docs.daemon.stop(5000);
            const ours = await startLanHaproxy(cp, `ours-${flags.length}`, projectHaproxyConfig(cp));
            results.push(await scenario(cp, "this project's LB", flags, { host: TEST_VIP, lb: ours }, all));
            await ours.daemon.stop(5000);
        };
        await round("kubeadm defaults");
        const topology = shutdownTopology();
        const flags = await applyShutdownFlags(cp, topology);
        await round(flags);

        const t = DEFAULT_HEALTH_CHECK_TIMINGS;
        const k = KUBEADM_DOCS_HEALTH_CHECK_TIMINGS;
        const cell = (r: ScenarioResult) => [
            `${r.failedH2} + ${r.failedH1} of ${r.total}${r.failedH2 + r.failedH1 ? ` (${r.errors})` : ""}`,
            String(r.clientGoFailed),
            String(r.watchGapMs),
            r.firstErrorMs === undefined ? "none" : String(r.firstErrorMs),
            r.restartMs.map((x) => (x / 1000).toFixed(1)).join(", "),
        ];
        const lines = [
            `kube-apiserver ${pins.kubernetes} restarts under load: 3 apiservers on a 3-member etcd ${pins.etcd}, each restarted in turn as a static pod swap (${Math.round((Date.now() - started) / 1000)} s)`,
            `this project's LB: inter ${t.intervalMs} fastinter ${t.fastIntervalMs} fall ${t.fall} rise ${t.rise}, retries 3 + redispatch; kubeadm docs LB: inter ${k.intervalMs} fall ${k.fall} rise ${k.rise}, retries 1 + redispatch`,
            `this project's apiserver flags (phase 1.5): ${flags}`,
            "",
            row(["scenario", "apiserver flags", "failed requests, HTTP/2 + HTTP/1.1 (no retries)", "failed for client-go (after its own retries)", "longest watch gap, ms", "first error after the first SIGTERM, ms", "each restart until back in service, s"]),
            row(Array(7).fill("---")),
            ...results.map((r) => row([r.label, r.flags === "kubeadm defaults" ? r.flags : "this project's", ...cell(r)])),
            "",
        ];
        const pick = (label: string, withFlags: boolean) => results.find((r) => r.label === label && (r.flags !== "kubeadm defaults") === withFlags)!;
        const headline = pick("this project's LB", true);
        const single = pick("single apiserver", false);
        const docs = pick("kubeadm docs LB", false);
        // Failures as a client-go client (every operator, kubectl) meets them: after the retries it makes by itself.
        lines.push(`restart_failed=${headline.clientGoFailed} restart_watch_gap_ms=${headline.watchGapMs} baseline_single_failed=${single.clientGoFailed} baseline_single_gap_ms=${single.watchGapMs} docs_lb_failed=${docs.clientGoFailed}`);
        process.stdout.write(`${lines.join("\n")}\n`);
    } finally {
        running.delete(cp);
        await cp.teardown();
    }
}

const running = new Set<ControlPlane>();
// Interrupted: stop every daemon and remove the temp dir before going.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
        process.stderr.write(`apiserver bench: ${signal}, tearing down\n`);
        void Promise.all([...running].map((cp) => cp.teardown())).finally(() => process.exit(130));
    });
}
// A hard bound on the whole run, whatever hangs.
const watchdog = setTimeout(() => {
    process.stderr.write("apiserver bench: gave up after 25 min\n");
    void Promise.all([...running].map((cp) => cp.teardown())).finally(() => process.exit(1));
}, 25 * 60_000);
watchdog.unref();

main().then(
    () => process.exit(0),
    (err: unknown) => {
        process.stderr.write(`apiserver bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
        process.exit(1);
    },
);
