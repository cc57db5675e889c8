/**
 * Failover benchmark for the apiserver load balancer: real HAProxy (Debian's, master-worker
 * mode) in front of three fake apiservers (TLS fixtures answering /readyz), on loopback only.
 * The same scenarios run twice, with this project's configuration (rendered from
 * topology/loadBalancer.ts) and with the haproxy.cfg of kubeadm's docs/ha-considerations.md
 * (HAProxy's default timings: inter 2s, fall 3, rise 2; retries 1 + redispatch; timeout
 * connect 5s), and print for each:
 *   - ms from a backend's /readyz turning 500 to HAProxy marking it DOWN (mean of 3),
 *   - failed client requests started while a backend is killed (before and after it is ejected),
 *   - failed client requests across a pool change (a backend added with a reload).
 * The docs' config as written replaces its HTTP check with `option ssl-hello-chk` (the later
 * option wins), so it never ejects an unready apiserver; that is shown on its own line, and the
 * baseline figures use the docs' timings with its HTTP check made effective (check-ssl).
 * Last line: ejection_ms=<n> baseline_ejection_ms=<n> failed_kill=<n> baseline_failed_kill=<n>
 * failed_reload=<n> baseline_failed_reload=<n>
 *
 *   npx tsx bench/lb.bench.ts           (bounded: about a minute)
 *   npx tsx bench/lb.bench.ts --sweep   ejection time of candidate timings (how the defaults were chosen)
 */
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { spawn } from "child_process";
import {
    apiserverPool,
    DEFAULT_HEALTH_CHECK_TIMINGS,
    ejectionBoundMs,
    HealthCheckTimings,
    KUBEADM_DOCS_HEALTH_CHECK_TIMINGS,
    PoolServer,
    renderHaproxyFragment,
    renderHaproxyServerLine,
} from "@ha-control-plane/topology";
import { bashWithPayload } from "../components/shipping/payloads";
import { SCRIPTS_DIR } from "../components/scriptFile";
import { FakeApiserver, selfSignedCert, TlsPair } from "../tests/fixtures/loadBalancer/fakeApiserver";
import { HaproxyProcess, sleep, testGlobal } from "../tests/fixtures/loadBalancer/haproxyProcess";
import { withFreshPorts } from "../tests/helpers/daemons";
import { kubeadmDocsConfig } from "../tests/fixtures/loadBalancer/kubeadmDocs";
import { failures, Load } from "../tests/fixtures/loadBalancer/load";

const EJECTION_REPS = 3;
const EJECTION_CAP_MS = 10_000;

/** How a configuration is written and how its pool is changed. */
interface Variant {
    readonly label: string;
    readonly backend: string;
    config(dir: string, port: number, servers: readonly PoolServer[]): string;
    /** Adds `server` with a seamless reload. */
    addServer(dir: string, cfg: string, port: number, servers: readonly PoolServer[], server: PoolServer, hap: HaproxyProcess): Promise<void>;
}

const ours: Variant = {
    label: "this project",
    backend: "apiserver_nodes",
    config: (dir, port, servers) => `${testGlobal(dir)}\n${renderHaproxyFragment(apiserverPool({ vip: "127.0.0.1", apiserverPort: port }, servers))}`,
    // What the program runs on a plain-HAProxy host: the install script with the server line.
    async addServer(dir, cfg, port, servers, server) {
        const pool = apiserverPool({ vip: "127.0.0.1", apiserverPort: port }, servers);
        // The script manages a marked block; convert the bench's config into one first.
        writeFileSync(path.join(dir, "fragment.cfg"), renderHaproxyFragment(pool));
        writeFileSync(cfg, testGlobal(dir));
        const common = ["--config", cfg, "--state-dir", path.join(dir, "state"), "--owner", "bench", "--master-socket", path.join(dir, "master.sock")];
        const script = path.join(SCRIPTS_DIR, "haproxy/apiserver-lb.sh");
        await exec("bash", [script, "apply", "--fragment", path.join(dir, "fragment.cfg"), "--reload", "none", ...common]);
        const stdin = bashWithPayload(readFileSync(script, "utf8"), renderHaproxyServerLine(pool, server));
        await exec("bash", ["-s", "--", "add-server", "--name", server.name, ...common], stdin);
    },
};

const kubeadmDocs: Variant = {
    label: "kubeadm docs",
    backend: "apiserverbackend",
    config: (dir, port, servers) => kubeadmDocsConfig(dir, port, servers, false),
    async addServer(dir, cfg, port, servers, server, hap) {
        writeFileSync(cfg, kubeadmDocsConfig(dir, port, [...servers, server], false));
        const before = await reloads(hap);
        await hap.masterCli("reload");
        const deadline = performance.now() + 10_000;
        // The master re-executes itself: its CLI is away for a moment.
        while (((await reloads(hap).catch(() => before)) === before) && performance.now() < deadline) await sleep(50);
    },
};

async function reloads(hap: HaproxyProcess): Promise<number> {
    const line = (await hap.masterCli("show proc")).split("\n").find((l) => /\smaster\s/.test(l)) ?? "";
    return Number(line.trim().split(/\s+/)[2] ?? -1);
}

function exec(command: string, args: readonly string[], stdin = ""): Promise<void> {
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, { stdio: ["pipe", "ignore", "pipe"] });
        let stderr = "";
        const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
        child.stderr.on("data", (d) => (stderr += d));
        child.on("close", (code) => {
            clearTimeout(timer);
            if (code === 0) resolve();
            else reject(new Error(`${command} ${args.join(" ")} exited ${code}: ${stderr}`));
        });
        child.stdin.end(stdin);
    });
}

const asServer = (f: FakeApiserver): PoolServer => ({ name: f.name, address: "127.0.0.1", port: f.port });

interface Harness {
    readonly dir: string;
    readonly cfg: string;
    readonly port: number;
    readonly hap: HaproxyProcess;
}

async function startHaproxy(configText: (dir: string, port: number) => string, backend: string, up: readonly FakeApiserver[]): Promise<Harness> {
    const dir = mkdtempSync(path.join(tmpdir(), "lb-bench-"));
    const cfg = path.join(dir, "haproxy.cfg");
    // A taken frontend port: the same config on another.
    const started = await withFreshPorts(1, async ([port]) => {
        writeFileSync(cfg, configText(dir, port));
        return { port, hap: await HaproxyProcess.start(dir, cfg, port) };
    }).catch((err: unknown) => {
        rmSync(dir, { recursive: true, force: true });
        throw err;
    });
    const harness = { dir, cfg, ...started };
    running.add(harness.hap);
    for (const f of up) {
        if ((await harness.hap.waitStatus(backend, f.name, "UP", 10_000)) === undefined) {
            await stopHarness(harness);
            throw new Error(`${f.name} never UP`);
        }
    }
    return harness;
}

const running = new Set<HaproxyProcess>();

async function stopHarness(h: Harness): Promise<void> {
    running.delete(h.hap);
    await h.hap.stop();
    rmSync(h.dir, { recursive: true, force: true });
}

interface EjectionResult {
    readonly runs: (number | undefined)[];
    readonly checkStatus: string;
}

/** Each rep turns a different backend unready (light load running) and times its ejection. */
async function ejection(variant: Variant, fakes: readonly FakeApiserver[], configText: (dir: string, port: number) => string, reps: number): Promise<EjectionResult> {
    const h = await startHaproxy(configText, variant.backend, fakes);
    const load = new Load(h.port, 2, 10);
    const runs: (number | undefined)[] = [];
    let checkStatus = "";
    try {
        for (let i = 0; i < reps; i++) {
            const f = fakes[i % fakes.length];
            await sleep(150 + Math.random() * 500); // a random phase against the check timer
            const t0 = performance.now();
            f.setReady(false);
            runs.push(await h.hap.waitStatus(variant.backend, f.name, "DOWN", EJECTION_CAP_MS, t0));
            checkStatus = (await h.hap.stats()).find((s) => s.server === f.name)?.checkStatus ?? "";
            f.setReady(true);
        }
    } finally {
        await load.stop();
        for (const f of fakes) f.setReady(true);
        await stopHarness(h);
    }
    return { runs, checkStatus };
}

interface FailureCount {
    readonly failed: number;
    readonly total: number;
    readonly brokenInFlight?: number;
}

/** Kills a backend under load; counts failures of requests started after the kill, until it is out. */
async function kill(variant: Variant, fakes: readonly FakeApiserver[]): Promise<FailureCount> {
    const [a, b] = fakes;
    const h = await startHaproxy((dir, port) => variant.config(dir, port, [a, b].map(asServer)), variant.backend, [a, b]);
    const load = new Load(h.port, 4, 2);
    try {
        await sleep(300);
        const killedAt = performance.now();
        await a.kill();
        const dead = performance.now();
        const down = (await h.hap.waitStatus(variant.backend, a.name, "DOWN", EJECTION_CAP_MS, killedAt)) ?? EJECTION_CAP_MS;
        await sleep(300);
        const results = await load.stop();
        const window = results.filter((r) => r.start >= dead && r.start <= killedAt + down + 300);
        const inFlight = results.filter((r) => r.start < dead && r.end >= killedAt);
        return { failed: failures(window).length, total: window.length, brokenInFlight: failures(inFlight).length };
    } finally {
        await load.stop();
        await a.restart();
        await stopHarness(h);
    }
}

/** Adds the third backend with a reload under load; counts every failed request around it. */
async function poolChange(variant: Variant, fakes: readonly FakeApiserver[]): Promise<FailureCount> {
    const [a, b, c] = fakes;
    const servers = [a, b].map(asServer);
    const h = await startHaproxy((dir, port) => variant.config(dir, port, servers), variant.backend, [a, b]);
    const load = new Load(h.port, 4, 2);
    try {
        await sleep(300);
        await variant.addServer(h.dir, h.cfg, h.port, servers, asServer(c), h.hap);
        if ((await h.hap.waitStatus(variant.backend, c.name, "UP", 10_000)) === undefined) throw new Error(`${c.name} not UP after the reload`);
        await sleep(500);
        const results = await load.stop();
        if (!results.some((r) => r.backend === c.name)) throw new Error(`${c.name} got no traffic after the reload`);
        return { failed: failures(results).length, total: results.length };
    } finally {
        await load.stop();
        await stopHarness(h);
    }
}

/** For contrast: the same pool change done by stopping and starting HAProxy (no socket handover). */
async function restartChange(fakes: readonly FakeApiserver[]): Promise<FailureCount> {
    const [a, b, c] = fakes;
    let h = await startHaproxy((dir, port) => ours.config(dir, port, [a, b].map(asServer)), ours.backend, [a, b]);
    const load = new Load(h.port, 4, 2);
    try {
        await sleep(300);
        writeFileSync(h.cfg, ours.config(h.dir, h.port, [a, b, c].map(asServer)));
        await h.hap.stop();
        running.delete(h.hap);
        h = { ...h, hap: await HaproxyProcess.start(h.dir, h.cfg, h.port) };
        running.add(h.hap);
        await sleep(500);
        const results = await load.stop();
        return { failed: failures(results).length, total: results.length };
    } finally {
        await load.stop();
        await stopHarness(h);
    }
}

const mean = (xs: readonly (number | undefined)[]): number | undefined =>
    xs.some((x) => x === undefined) ? undefined : Math.round((xs as number[]).reduce((s, x) => s + x, 0) / xs.length);
const ms = (x: number | undefined): string => (x === undefined ? `never (> ${EJECTION_CAP_MS})` : String(Math.round(x)));
const row = (cells: readonly string[]): string => `| ${cells.join(" | ")} |`;

/** Candidate timings, each measured like the main run's ejection. */
async function sweep(fakes: readonly FakeApiserver[]): Promise<void> {
    const candidates: HealthCheckTimings[] = [
        { ...DEFAULT_HEALTH_CHECK_TIMINGS, intervalMs: 2000, fastIntervalMs: 500, downIntervalMs: 2000 },
        { ...DEFAULT_HEALTH_CHECK_TIMINGS, intervalMs: 1000, fastIntervalMs: 500 },
        DEFAULT_HEALTH_CHECK_TIMINGS,
        { ...DEFAULT_HEALTH_CHECK_TIMINGS, fall: 2 },
        { ...DEFAULT_HEALTH_CHECK_TIMINGS, intervalMs: 500, fastIntervalMs: 250, downIntervalMs: 500, fall: 2 },
    ];
    const all = fakes.map(asServer);
    const lines = [row(["inter", "fastinter", "fall", "needs failing for", "bound ms", "ejected ms (mean of 3)", "checks/s per backend"]), row(Array(7).fill("---"))];
    for (const t of candidates) {
        const config = (dir: string, port: number) => `${testGlobal(dir)}\n${renderHaproxyFragment(apiserverPool({ vip: "127.0.0.1", apiserverPort: port }, all, { healthCheck: t }))}`;
        const result = await ejection(ours, fakes, config, EJECTION_REPS);
        lines.push(row([String(t.intervalMs), String(t.fastIntervalMs), String(t.fall), `>= ${(t.fall - 1) * t.fastIntervalMs} ms`, String(ejectionBoundMs(t)), `${ms(mean(result.runs))} (${result.runs.map(ms).join(", ")})`, (1000 / t.intervalMs).toFixed(1)]));
    }
    process.stdout.write(`${lines.join("\n")}\n`);
}

async function main(): Promise<void> {
    const started = performance.now();
    const tls: TlsPair = selfSignedCert();
    const fakes = await Promise.all(["master-a", "master-b", "master-c"].map((n) => FakeApiserver.start(n, tls)));
    try {
        if (process.argv.includes("--sweep")) return await sweep(fakes);
        const all = fakes.map(asServer);
        const step = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
            const t0 = performance.now();
            const result = await f();
            process.stderr.write(`  ${what}: ${Math.round(performance.now() - t0)} ms\n`);
            return result;
        };
        const oursEjection = await step("ejection, this project", () => ejection(ours, fakes, (dir, port) => ours.config(dir, port, all), EJECTION_REPS));
        const docsEjection = await step("ejection, kubeadm docs", () => ejection(kubeadmDocs, fakes, (dir, port) => kubeadmDocs.config(dir, port, all), EJECTION_REPS));
        const asWritten = await step("ejection, kubeadm docs as written", () => ejection(kubeadmDocs, fakes, (dir, port) => kubeadmDocsConfig(dir, port, all, true), 1));
        const oursKill = await step("kill, this project", () => kill(ours, fakes));
        const docsKill = await step("kill, kubeadm docs", () => kill(kubeadmDocs, fakes));
        const oursReload = await step("pool change, this project", () => poolChange(ours, fakes));
        const docsReload = await step("pool change, kubeadm docs", () => poolChange(kubeadmDocs, fakes));
        const restart = await step("pool change by restart", () => restartChange(fakes));

        const t = DEFAULT_HEALTH_CHECK_TIMINGS;
        const k = KUBEADM_DOCS_HEALTH_CHECK_TIMINGS;
        const oursMs = mean(oursEjection.runs);
        const docsMs = mean(docsEjection.runs);
        const lines = [
            `HAProxy failover on loopback (3 fake apiservers, ${Math.round((performance.now() - started) / 1000)} s)`,
            "",
            row(["", `this project (inter ${t.intervalMs} fastinter ${t.fastIntervalMs} fall ${t.fall} rise ${t.rise}, retries 3 + redispatch 1)`, `kubeadm docs (inter ${k.intervalMs} fall ${k.fall} rise ${k.rise}, retries 1 + redispatch)`]),
            row(["---", "---", "---"]),
            row([`unready -> ejected, ms (mean of ${EJECTION_REPS})`, `${ms(oursMs)} (${oursEjection.runs.map(ms).join(", ")}; bound ${ejectionBoundMs(t)})`, `${ms(docsMs)} (${docsEjection.runs.map(ms).join(", ")}; bound ${ejectionBoundMs(k)})`]),
            row(["failed requests, backend killed", `${oursKill.failed} of ${oursKill.total}`, `${docsKill.failed} of ${docsKill.total}`]),
            row(["(requests in flight at the kill, broken)", String(oursKill.brokenInFlight), String(docsKill.brokenInFlight)]),
            row(["failed requests, backend added (seamless reload)", `${oursReload.failed} of ${oursReload.total}`, `${docsReload.failed} of ${docsReload.total}`]),
            "",
            `kubeadm docs config as written (option ssl-hello-chk after option httpchk): unready -> ejected ${ms(asWritten.runs[0])} ms; check status ${asWritten.checkStatus || "?"} while /healthz answers 500`,
            `the same pool change by stopping and starting HAProxy instead of a reload: ${restart.failed} of ${restart.total} requests failed`,
            "",
            `ejection_ms=${oursMs ?? EJECTION_CAP_MS} baseline_ejection_ms=${docsMs ?? EJECTION_CAP_MS} failed_kill=${oursKill.failed} baseline_failed_kill=${docsKill.failed} failed_reload=${oursReload.failed} baseline_failed_reload=${docsReload.failed}`,
        ];
        process.stdout.write(`${lines.join("\n")}\n`);
    } finally {
        await Promise.all(fakes.map((f) => f.kill()));
    }
}

// A hard bound on the whole run, whatever hangs.
const watchdog = setTimeout(() => {
    process.stderr.write("lb bench: gave up after 110 s\n");
    for (const hap of running) void hap.stop();
    process.exit(1);
}, 110_000);
watchdog.unref();

main()
    .catch((err: unknown) => {
        process.stderr.write(`lb bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
        process.exitCode = 1;
    })
    .finally(async () => {
        await Promise.all([...running].map((hap) => hap.stop()));
    });
