/**
 * Processes of a test control plane: every daemon is a child of this Node process, started under
 * `setpriv --pdeathsig KILL` so it dies with this process even when no after hook runs, logged to
 * a file, and stopped with SIGTERM then SIGKILL. Commands run bounded (a timeout kills them).
 */
import { ChildProcess, spawn } from "child_process";
import { closeSync, openSync, readFileSync } from "fs";

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface ExitStatus {
    readonly code: number | null;
    readonly signal: NodeJS.Signals | null;
}

/** A long-running process (a daemon, a namespace holder). */
export class Daemon {
    private status: ExitStatus | undefined;
    readonly exited: Promise<ExitStatus>;

    constructor(readonly name: string, private readonly child: ChildProcess, readonly logFile: string | undefined) {
        this.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve((this.status = { code, signal }))));
    }

    get pid(): number {
        return this.child.pid ?? -1;
    }

    get running(): boolean {
        return this.status === undefined;
    }

    get exitStatus(): ExitStatus | undefined {
        return this.status;
    }

    /** The end of its log, for error messages. */
    logTail(chars = 3000): string {
        if (!this.logFile) return "";
        try {
            return readFileSync(this.logFile, "utf8").slice(-chars);
        } catch {
            return "";
        }
    }

    signal(signal: NodeJS.Signals): void {
        if (this.running) this.child.kill(signal);
    }

    /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
    async stop(graceMs = 10_000, signal: NodeJS.Signals = "SIGTERM"): Promise<ExitStatus> {
        if (!this.running) return this.status!;
        this.child.kill(signal);
        const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
        const status = await this.exited;
        clearTimeout(timer);
        return status;
    }
}

export interface SpawnOptions {
    readonly env?: NodeJS.ProcessEnv;
    /** stdout and stderr go here (appended); ignored when absent. */
    readonly logFile?: string;
    /** Keep stdin open as a pipe (a namespace holder waits on it). */
    readonly stdinPipe?: boolean;
}

/** Every daemon started for one control plane, so that teardown stops them all. */
export class ProcessGroup {
    private readonly daemons = new Set<Daemon>();

    /** Starts argv with the parent-death signal set, so it cannot outlive this process. */
    spawn(name: string, argv: readonly string[], opts: SpawnOptions = {}): Daemon {
        const fd = opts.logFile ? openSync(opts.logFile, "a") : "ignore";
        try {
            const child = spawn("setpriv", ["--pdeathsig", "KILL", "--", ...argv], {
                env: opts.env ?? process.env,
                stdio: [opts.stdinPipe ? "pipe" : "ignore", fd, fd],
            });
            const daemon = new Daemon(name, child, opts.logFile);
            this.daemons.add(daemon);
            void daemon.exited.then(() => this.daemons.delete(daemon));
            child.on("error", () => undefined);
            return daemon;
        } finally {
            if (typeof fd === "number") closeSync(fd);
        }
    }

    get running(): Daemon[] {
        return [...this.daemons].filter((d) => d.running);
    }

    /** Stops everything still running, all at once; bounded by `graceMs` plus the SIGKILL. */
    async stopAll(graceMs = 10_000): Promise<void> {
        await Promise.all([...this.daemons].map((d) => d.stop(graceMs)));
    }
}

export interface RunResult {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

export interface RunOptions {
    readonly input?: string;
    readonly env?: NodeJS.ProcessEnv;
    /** Killed after this long (then the result has code 124 and says so in stderr). */
    readonly timeoutMs?: number;
}

/** Runs argv to completion, bounded; never throws for a non-zero exit. */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return new Promise((resolve, reject) => {
        const child = spawn("setpriv", ["--pdeathsig", "KILL", "--", ...argv], { env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        let timedOut = false;
        const timeoutMs = opts.timeoutMs ?? 120_000;
        const timer = setTimeout(() => {
            timedOut = true;
            child.kill("SIGKILL");
        }, timeoutMs);
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", (err) => {
            clearTimeout(timer);
            reject(err);
        });
        child.on("close", (code, signal) => {
            clearTimeout(timer);
            if (timedOut) stderr += `\n(killed after ${timeoutMs} ms: ${argv.join(" ")})`;
            resolve({ code: timedOut ? 124 : (code ?? (signal ? 128 : 1)), stdout, stderr });
        });
        child.stdin.on("error", () => undefined);
        child.stdin.end(opts.input ?? "");
    });
}

/** run(), failing with the command's output when it exits non-zero. */
export async function runOk(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const result = await run(argv, opts);
    if (result.code !== 0) throw new Error(`${argv.join(" ")} exited ${result.code}:\n${result.stderr}${result.stdout}`);
    return result;
}

/** Polls `probe` until it returns a value, or fails after `timeoutMs` saying what it waited for. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, intervalMs = 250): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
        try {
            const value = await probe();
            if (value !== undefined) return value;
        } catch (err) {
            last = err;
        }
        if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message ?? last}` : ""}`);
        await sleep(intervalMs);
    }
}
