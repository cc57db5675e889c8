/**
 * Root hooks of the whole suite (.mocharc.json loads this file with `require`): the run FAILS,
 * naming them, when the tests left a process alive, a temporary file, or an open server, socket
 * or child handle that would keep mocha from exiting, whatever failed before. What it finds it
 * then stops or removes, so the run ends (mocha is never given --exit) and leaves nothing behind.
 *
 * - Processes: this run's marker variable is in the environment of every child the tests start
 *   (inherited, and added to any `env` a test passes), and of everything those start in turn;
 *   /proc is scanned for it at the end, so a daemon is found even after it was re-parented.
 * - Temporary files: TMPDIR points at one directory for the run, so `os.tmpdir()` in the tests
 *   and `mktemp` in the scripts they run land there; it must be empty at the end.
 * - Output: spawnSync, execFileSync, execSync, execFile and exec read to the end unless a test
 *   says otherwise (Node's default maxBuffer, 1 MiB, cuts a large JSON and kills the child).
 */
import childProcess = require("child_process");
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "fs";
import { tmpdir, userInfo } from "os";
import * as path from "path";

/** Unique per run, so a run started by a test (a nested mocha) has its own and keeps its parent's. */
export const RUN_MARKER = `HACP_TEST_RUN_${process.pid}_${Date.now()}`;
/** Every temporary file of this run is under it. */
export const RUN_TMPDIR = mkdtempSync(path.join(tmpdir(), "hacp-test-run-"));
/**
 * Caches kept in $TMPDIR on purpose, across runs: tsx's (tsx-<euid>) and Node's compile cache.
 * The tsx and node processes the tests start (the plan CLI) find the usual ones through these
 * links, the only entries allowed.
 */
const CACHE_LINKS = [`tsx-${process.geteuid?.() ?? userInfo().username}`, "node-compile-cache"];
for (const cache of CACHE_LINKS) {
    mkdirSync(path.join(tmpdir(), cache), { recursive: true, mode: 0o700 });
    symlinkSync(path.join(tmpdir(), cache), path.join(RUN_TMPDIR, cache));
}
process.env[RUN_MARKER] = "1";
process.env.TMPDIR = RUN_TMPDIR;

type Options = Record<string, unknown> & { env?: NodeJS.ProcessEnv; maxBuffer?: number };

const isOptions = (a: unknown): a is Options => typeof a === "object" && a !== null && !Array.isArray(a);

/**
 * The call's arguments with the marker in an explicit `env` and, for a buffering call, no output
 * limit unless one is given. The options object is the first plain object after the command;
 * one is added (before any callback) when there is none.
 */
function withRunDefaults(args: unknown[], buffered: boolean): unknown[] {
    const out = [...args];
    let at = out.findIndex((a, i) => i > 0 && isOptions(a));
    if (at < 0) {
        const callback = out.findIndex((a, i) => i > 0 && typeof a === "function");
        at = callback < 0 ? out.length : callback;
        // execFile(file, callback) / exec(cmd, callback): options go between.
        out.splice(at, 0, {});
    }
    const options: Options = { ...(out[at] as Options) };
    if (options.env && options.env[RUN_MARKER] === undefined) options.env = { ...options.env, [RUN_MARKER]: "1" };
    if (buffered && options.maxBuffer === undefined) options.maxBuffer = Infinity;
    out[at] = options;
    return out;
}

/** The children the tests started, with what they ran (for the report). */
const children = new Map<childProcess.ChildProcess, string>();

function wrap(name: "spawn" | "execFile" | "exec" | "fork" | "spawnSync" | "execFileSync" | "execSync", buffered: boolean, returnsChild: boolean): void {
    const module = childProcess as unknown as Record<string, (...args: unknown[]) => unknown>;
    const original = module[name];
    module[name] = function (this: unknown, ...args: unknown[]) {
        const result = original.apply(this, withRunDefaults(args, buffered));
        if (returnsChild) {
            const child = result as childProcess.ChildProcess;
            children.set(child, [args[0], ...(Array.isArray(args[1]) ? args[1] : [])].map(String).join(" "));
            child.once("exit", () => children.delete(child));
        }
        return result;
    };
}
wrap("spawn", false, true);
wrap("fork", false, true);
wrap("execFile", true, true);
wrap("exec", true, true);
wrap("spawnSync", true, false);
wrap("execFileSync", true, false);
wrap("execSync", true, false);

interface Leftover {
    readonly pid: number;
    readonly command: string;
}

/** Live (not zombie) processes other than this one whose environment carries this run's marker. */
function markedProcesses(): Leftover[] {
    const marker = Buffer.from(`${RUN_MARKER}=`);
    const found: Leftover[] = [];
    let entries: string[];
    try {
        entries = readdirSync("/proc").filter((e) => /^\d+$/.test(e));
    } catch {
        return [...children.entries()].filter(([c]) => c.exitCode === null && c.signalCode === null && c.pid).map(([c, cmd]) => ({ pid: c.pid!, command: cmd }));
    }
    for (const entry of entries) {
        const pid = Number(entry);
        if (pid === process.pid) continue;
        try {
            const environ = readFileSync(`/proc/${pid}/environ`);
            const atStart = environ.indexOf(marker);
            if (atStart < 0 || (atStart > 0 && environ[atStart - 1] !== 0)) continue;
            const [state, ppid] = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ");
            if (state === "Z" || state === "X") continue;
            const command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
            // tsx's own esbuild service: this process's helper, not a test's; it ends with it.
            if (Number(ppid) === process.pid && /\/esbuild --service=\S+ --ping$/.test(command)) continue;
            found.push({ pid, command });
        } catch {
            // gone meanwhile, or not ours to read
        }
    }
    return found;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Processes still there once those on their way out (killed just now) had time to go. */
async function leftoverProcesses(settleMs: number): Promise<Leftover[]> {
    const deadline = Date.now() + settleMs;
    let left = markedProcesses();
    while (left.length && Date.now() < deadline) {
        await sleep(100);
        left = markedProcesses();
    }
    return left;
}

function killAll(left: readonly Leftover[]): void {
    for (const p of left) {
        try {
            process.kill(p.pid, "SIGKILL");
        } catch {
            // already gone
        }
    }
}

/** Handles that keep the event loop alive, apart from this process's own stdio. */
function openHandles(): { describe: string; pid?: number; close: () => void }[] {
    const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
    const found: { describe: string; pid?: number; close: () => void }[] = [];
    for (const h of handles) {
        if (h === process.stdin || h === process.stdout || h === process.stderr) continue;
        if (h instanceof childProcess.ChildProcess) {
            // Exited: its handle is closing.
            if (h.exitCode !== null || h.signalCode !== null) continue;
            found.push({ describe: `child process ${h.pid} (${h.spawnargs.join(" ")})`, pid: h.pid, close: () => (h.kill("SIGKILL"), h.unref()) });
            continue;
        }
        const any = h as { constructor?: { name?: string }; address?: () => unknown; remoteAddress?: string; remotePort?: number; close?: () => void; destroy?: () => void; unref?: () => void; fd?: number };
        if (any.fd === 0 || any.fd === 1 || any.fd === 2) continue;
        const kind = any.constructor?.name ?? "handle";
        let where = "";
        try {
            where = any.remoteAddress ? `${any.remoteAddress}:${any.remotePort}` : JSON.stringify(any.address?.() ?? "");
        } catch {
            // no address
        }
        found.push({
            describe: `${kind} ${where}`.trim(),
            close: () => {
                if (typeof any.destroy === "function") any.destroy();
                else if (typeof any.close === "function") any.close();
                any.unref?.();
            },
        });
    }
    return found;
}

const runEndCleanups: (() => void | Promise<void>)[] = [];

/** For what a helper keeps for the whole run on purpose (one shared stand-in directory): released just before the check. */
export function atRunEnd(cleanup: () => void | Promise<void>): void {
    runEndCleanups.push(cleanup);
}

/** The run's verdict: what the tests left behind, each cleaned up after being named. */
export async function checkForLeftovers(settleMs = 10_000): Promise<string[]> {
    for (const cleanup of runEndCleanups.splice(0)) await cleanup();
    const problems: string[] = [];
    const processes = await leftoverProcesses(settleMs);
    if (processes.length) {
        problems.push(...processes.map((p) => `process ${p.pid} still running: ${p.command}`));
        killAll(processes);
        await leftoverProcesses(settleMs);
    }
    let files: string[] = [];
    try {
        files = readdirSync(RUN_TMPDIR).filter((f) => !(CACHE_LINKS.includes(f) && lstatSync(path.join(RUN_TMPDIR, f)).isSymbolicLink()));
    } catch {
        problems.push(`the run's temporary directory ${RUN_TMPDIR} was removed by a test`);
    }
    problems.push(...files.map((f) => `temporary file left: ${path.join(RUN_TMPDIR, f)}`));
    for (const f of files) rmSync(path.join(RUN_TMPDIR, f), { recursive: true, force: true });
    // Handles closed just now go at the end of this turn of the event loop.
    await sleep(50);
    const reported = new Set(processes.map((p) => p.pid));
    for (const h of openHandles()) {
        if (h.pid !== undefined && reported.has(h.pid)) {
            h.close();
            continue;
        }
        problems.push(`open handle left (would keep mocha from exiting): ${h.describe}`);
        h.close();
    }
    return problems;
}

/** If the run dies before the root `after` hook (a crash), still leave nothing behind. */
process.once("exit", () => {
    const left = markedProcesses();
    if (left.length) process.stderr.write(`leak check: killing what the tests left running: ${left.map((p) => `${p.pid} ${p.command}`).join("; ")}\n`);
    killAll(left);
    rmSync(RUN_TMPDIR, { recursive: true, force: true });
});

export const mochaHooks = {
    async afterAll(this: Mocha.Context): Promise<void> {
        this.timeout(60_000);
        const problems = await checkForLeftovers();
        if (problems.length) throw new Error(`the tests left things behind:\n  ${problems.join("\n  ")}`);
    },
};
