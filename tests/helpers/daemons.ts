/**
 * Daemons the tests start (etcd, HAProxy, BIND, ...): spawned with their output kept, waited on
 * until they answer, stopped for sure, and restarted on other ports when a port was taken.
 *
 * Ports are not probed beforehand: a port found free and released can be taken by another daemon
 * (several start at once, and other test runs share the machine) before ours binds it. The
 * daemon binds itself; when it reports the port in use, it is stopped and started again on fresh
 * ports. Waits end when the daemon answers or exits; the deadline only stops a daemon that hangs.
 */
import { ChildProcess, spawn } from "child_process";
import { mkdtempSync, readFileSync, rmSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";

/** Last resort for a daemon that neither answers nor exits: generous, a busy 2-core CI machine. */
export const DAEMON_START_DEADLINE_MS = 120_000;
/** A mocha hook that starts daemons needs at least this much (the deadline, then the clean-up). */
export const DAEMON_HOOK_TIMEOUT_MS = DAEMON_START_DEADLINE_MS + 30_000;

/** What etcd, HAProxy and BIND print when a listening port is taken. */
const PORT_TAKEN = /address already in use|EADDRINUSE|cannot bind socket|unable to listen on any configured interfaces/i;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A daemon could not bind one of its ports: start it again on others. */
export class PortInUse extends Error {}

/** The ports the kernel hands out for outgoing connections; ours are picked outside them. */
function ephemeralRange(): [number, number] {
    try {
        const [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
        if (low > 0 && high >= low) return [low, high];
    } catch {
        // not Linux: the IANA dynamic range
    }
    return [49152, 65535];
}

/** `count` distinct random loopback ports, none in the ephemeral range. */
export function randomPorts(count: number): number[] {
    const [low, high] = ephemeralRange();
    const ranges = [[10_000, low - 1], [high + 1, 65_535]].filter(([a, b]) => b - a >= 1000);
    const pool = ranges.length ? ranges : [[1024, 65_535]];
    const size = pool.reduce((n, [a, b]) => n + b - a + 1, 0);
    const ports = new Set<number>();
    while (ports.size < count) {
        let i = Math.floor(Math.random() * size);
        for (const [a, b] of pool) {
            if (i <= b - a) {
                ports.add(a + i);
                break;
            }
            i -= b - a + 1;
        }
    }
    return [...ports];
}

/**
 * Runs `start` with `count` fresh ports; when it throws PortInUse (it must have stopped what it
 * started), again with new ones, up to `attempts` times.
 */
export async function withFreshPorts<T>(count: number, start: (ports: number[]) => Promise<T>, attempts = 10): Promise<T> {
    for (let attempt = 1; ; attempt++) {
        try {
            return await start(randomPorts(count));
        } catch (err) {
            if (!(err instanceof PortInUse) || attempt >= attempts) throw err;
        }
    }
}

export interface DaemonOptions {
    readonly env?: NodeJS.ProcessEnv;
    readonly cwd?: string;
    /** How `stop()` ends it unless told otherwise: SIGTERM, or SIGKILL for one whose shutdown is not under test. */
    readonly stopSignal?: NodeJS.Signals;
}

/** One daemon process: its stdout and stderr are kept (the last 16 KiB), its exit is awaited. */
export class Daemon {
    readonly child: ChildProcess;
    readonly exited: Promise<void>;
    private log = "";
    private readonly stopSignal: NodeJS.Signals;

    constructor(readonly name: string, command: string, args: readonly string[], options: DaemonOptions = {}) {
        this.child = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] });
        this.stopSignal = options.stopSignal ?? "SIGTERM";
        const keep = (d: Buffer) => (this.log = (this.log + d.toString()).slice(-16_384));
        this.child.stdout!.on("data", keep);
        this.child.stderr!.on("data", keep);
        this.exited = new Promise((resolve) => {
            // A command that cannot be started at all ('error', no 'exit') is gone too.
            this.child.once("error", (err) => {
                this.log += `\n${err.message}`;
                resolve();
            });
            this.child.once("exit", () => resolve());
        });
    }

    get running(): boolean {
        return this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined;
    }

    output(): string {
        return this.log;
    }

    /** True once the daemon said a port of its was taken (BIND says so and then exits; etcd and HAProxy exit). */
    portTaken(): boolean {
        return PORT_TAKEN.test(this.log);
    }

    /** Its stop signal (or `signal`), SIGKILL after `graceMs`; resolves once the process is gone and its pipes are closed. */
    async stop(signal = this.stopSignal, graceMs = 5000): Promise<void> {
        if (this.running) {
            this.child.kill(signal);
            const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
            await this.exited;
            clearTimeout(timer);
        }
        // A child of the daemon may still hold the pipes: they are ours to close.
        this.child.stdout?.destroy();
        this.child.stderr?.destroy();
    }
}

/**
 * Resolves once `answers()` is true (it must bound its own probe). Rejects with PortInUse when a
 * daemon reports a taken port, or with its output when one exits or the deadline passes.
 */
export async function waitForAnswer(what: string, daemons: readonly Daemon[], answers: () => Promise<boolean>, deadlineMs = DAEMON_START_DEADLINE_MS): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
        for (const d of daemons) {
            if (d.portTaken()) throw new PortInUse(`${d.name}: a port is taken:\n${d.output()}`);
            if (!d.running) throw new Error(`${d.name} exited (${d.child.exitCode ?? d.child.signalCode}) before ${what}:\n${d.output()}`);
        }
        if (await answers()) return;
        if (Date.now() > deadline) {
            throw new Error(`${what}: no answer within ${deadlineMs / 1000} s:\n${daemons.map((d) => `--- ${d.name}\n${d.output()}`).join("\n")}`);
        }
        await sleep(100);
    }
}

/**
 * The daemons of one test file or suite, and their directories: its `after` hook calls
 * stopAll(), which stops every daemon started so far, refuses later starts, waits for the starts
 * still under way to give up, and removes the directories, so a `before` hook that failed after
 * a start, or that mocha gave up on (timeout), cannot leave a daemon or its data behind.
 */
export class DaemonGroup {
    private readonly daemons = new Set<Daemon>();
    private readonly underWay = new Set<Promise<unknown>>();
    private readonly directories = new Set<string>();
    private stopped = false;

    /** A new temporary directory, removed by stopAll() (or by removeDirectory). */
    directory(prefix: string): string {
        if (this.stopped) throw new Error(`not creating ${prefix}: its test's clean-up already ran`);
        const dir = mkdtempSync(path.join(tmpdir(), prefix));
        this.directories.add(dir);
        return dir;
    }

    removeDirectory(dir: string): void {
        rmSync(dir, { recursive: true, force: true });
        this.directories.delete(dir);
    }

    /** `start` (a helper's whole start-up, clean-up on failure included), awaited by stopAll(). */
    starting<T>(start: Promise<T>): Promise<T> {
        const settled = start.then(() => undefined, () => undefined);
        this.underWay.add(settled);
        void settled.then(() => this.underWay.delete(settled));
        return start;
    }

    start(name: string, command: string, args: readonly string[], options?: DaemonOptions): Daemon {
        if (this.stopped) throw new Error(`not starting ${name}: its test's clean-up already ran`);
        const daemon = new Daemon(name, command, args, options);
        this.daemons.add(daemon);
        return daemon;
    }

    /** How many of its daemons have been started and not stopped. */
    get size(): number {
        return this.daemons.size;
    }

    async stop(daemons: readonly Daemon[], signal?: NodeJS.Signals): Promise<void> {
        await Promise.all(daemons.map((d) => d.stop(signal)));
        for (const d of daemons) this.daemons.delete(d);
    }

    async stopAll(): Promise<void> {
        this.stopped = true;
        await this.stop([...this.daemons]);
        await Promise.all([...this.underWay]);
        // A start that was between two daemons when stopped.
        await this.stop([...this.daemons]);
        for (const dir of [...this.directories]) this.removeDirectory(dir);
    }
}
