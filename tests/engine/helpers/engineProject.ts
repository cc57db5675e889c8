/**
 * A throwaway project for the real Pulumi CLI: a temporary folder with this repository's
 * Pulumi.yaml and one stack file, a local file backend inside it, and the program run in-process
 * from the repository (tools/pulumi.ts). Every run's stdout, stderr and event log are kept so a
 * test can read what the engine itself recorded.
 */
import { spawn } from "child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { runPulumi, RunResult } from "../../../tools/pulumi";
import { engineEnv, pulumiCli, repoRoot } from "../../../toolchain";

/** Values planted as the stack's secrets: none of them may ever appear in output, events or state. */
export const PLANTED = {
    "proxmox.apiToken": "root@pam!ha-control-plane=PLANTED-proxmox-token-4b1f",
    "ssh.privateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nPLANTED-ssh-key-9c2e\n-----END OPENSSH PRIVATE KEY-----",
    "dns.tsigSecret": "UExBTlRFRC10c2lnLTdkM2E=",
    "kubernetesAccess.kubeconfig": "apiVersion: v1\nkind: Config\nclusters: []\nusers: [{name: x, user: {token: PLANTED-kube-token-1a8b}}]\n",
} as const;

export interface EngineEvent {
    readonly [kind: string]: any;
}

export interface EngineRun extends RunResult {
    readonly events: EngineEvent[];
    readonly eventLog: string;
}

/** The CLI must exist: the engine suite fails (never skips) without it. */
export function requireCli(): string {
    const cli = pulumiCli();
    if (!cli) throw new Error("the engine suite needs the Pulumi CLI: run `npm run toolchain` (it builds it from the Go module proxy)");
    return cli;
}

export class EngineProject {
    readonly dir = mkdtempSync(path.join(tmpdir(), "hacp-engine-"));
    private runs = 0;
    private readonly env: NodeJS.ProcessEnv;

    private programFile = path.join(repoRoot, "index.ts");

    /**
     * A project of this repository's program, or (`checkout`) of another checkout's: its
     * Pulumi.yaml and index.ts. `pathFirst` goes in front of the CLI's PATH (stand-in plugins).
     */
    constructor(stackFiles: Readonly<Record<string, string>>, options: { checkout?: string; pathFirst?: string; env?: Readonly<Record<string, string>> } = {}) {
        this.useProgramOf(options.checkout ?? repoRoot);
        for (const [stack, text] of Object.entries(stackFiles)) writeFileSync(path.join(this.dir, `Pulumi.${stack}.yaml`), text);
        // --event-log is a debug-command flag in the CLI (the Automation API sets the same variable).
        // The CLI and its plugins leave files in TMPDIR (the kubernetes provider's kubeconfig
        // copies, ts-node's cache for the pack): kept inside the project, removed with it.
        const tmp = path.join(this.dir, "tmp");
        mkdirSync(tmp);
        const env = engineEnv({ backendUrl: `file://${this.stateDir}`, passphrase: "engine-suite-passphrase" });
        if (options.pathFirst) env.PATH = `${options.pathFirst}${path.delimiter}${env.PATH ?? ""}`;
        this.env = { ...env, ...options.env, PULUMI_DEBUG_COMMANDS: "true", TMPDIR: tmp };
    }

    /** Replaces a stack's file (a user's edit of Pulumi.<stack>.yaml). */
    writeStackFile(stack: string, text: string): void {
        writeFileSync(path.join(this.dir, `Pulumi.${stack}.yaml`), text);
    }

    /** The next runs run `checkout`'s program with its Pulumi.yaml, on the same stacks and state. */
    useProgramOf(checkout: string): void {
        copyFileSync(path.join(checkout, "Pulumi.yaml"), path.join(this.dir, "Pulumi.yaml"));
        this.programFile = path.join(checkout, "index.ts");
    }

    get stateDir(): string {
        return path.join(this.dir, "state");
    }

    async run(args: readonly string[], input?: string): Promise<EngineRun> {
        const eventLog = path.join(this.dir, `events-${++this.runs}.jsonl`);
        const withLog = ["preview", "up", "destroy", "refresh"].includes(args[0] ?? "") ? [...args, "--event-log", eventLog] : [...args];
        const result = await runPulumi(withLog, { cwd: this.dir, env: this.env, programFile: this.programFile, input });
        const events = existsSync(eventLog) ? readFileSync(eventLog, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as EngineEvent) : [];
        return { ...result, events, eventLog };
    }

    /** A new stack with every secret planted through `config set --secret`, as the README tells a user. */
    async initStack(stack: string, secrets: Readonly<Record<string, string>> = PLANTED): Promise<void> {
        const init = await this.run(["stack", "init", stack]);
        if (init.code !== 0) throw new Error(`stack init ${stack}: ${init.stderr}`);
        for (const [key, value] of Object.entries(secrets)) {
            const set = await this.run(["config", "set", "--secret", "--path", key, "--stack", stack], value);
            if (set.code !== 0) throw new Error(`config set ${key}: ${set.stderr}`);
        }
    }

    /** Every file the backend wrote (state, history, backups), as text. */
    stateText(): string {
        const out: string[] = [];
        const walk = (dir: string): void => {
            if (!existsSync(dir)) return;
            for (const name of readdirSync(dir)) {
                const file = path.join(dir, name);
                if (statSync(file).isDirectory()) walk(file);
                else out.push(readFileSync(file, "utf8"));
            }
        };
        walk(this.stateDir);
        return out.join("\n");
    }

    cleanup(): void {
        rmSync(this.dir, { recursive: true, force: true });
    }
}

/** The offline plan's JSON for a stack file and phase, read to the end however large. */
export function offlinePlan(stackFile: string, targetPhase: string, policyConfig: string): Promise<{ status: number; doc: any; stderr: string }> {
    const tsx = path.join(repoRoot, "node_modules", ".bin", "tsx");
    const args = [path.join(repoRoot, "tools", "plan.ts"), "--stack", path.basename(stackFile).replace(/^Pulumi\.(.*)\.yaml$/, "$1"), "--config-file", stackFile, "--target-phase", targetPhase, "--policy-config", policyConfig, "--format", "json"];
    return new Promise((resolve, reject) => {
        const child = spawn(tsx, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", reject);
        child.on("close", (code) => {
            try {
                resolve({ status: code ?? 1, doc: JSON.parse(stdout), stderr });
            } catch (e) {
                reject(new Error(`plan output is not JSON (exit ${code}): ${stderr}`));
            }
        });
    });
}

/** What the engine stepped, from its own event log (which carries no dependencies: see previewSteps). */
export function registeredResources(events: readonly EngineEvent[]): { urn: string; type: string; parent: string; op: string }[] {
    return events
        .filter((e) => e.resourcePreEvent)
        .map((e) => {
            const m = e.resourcePreEvent.metadata;
            return { urn: m.urn, type: m.type, op: m.op, parent: m.new?.parent ?? "" };
        });
}

/** The steps of `pulumi preview --json`, with each resource's new state's dependencies. */
export function previewSteps(stdout: string): { urn: string; type: string; parent: string; dependencies: string[]; op: string }[] {
    const doc = JSON.parse(stdout) as { steps?: { op: string; urn: string; newState?: { type: string; parent?: string; dependencies?: string[] } }[] };
    return (doc.steps ?? []).map((s) => ({ urn: s.urn, op: s.op, type: s.newState?.type ?? "", parent: s.newState?.parent ?? "", dependencies: [...(s.newState?.dependencies ?? [])].sort() }));
}

/** The pack's verdicts from the event log, as the offline plan words them (the message without the policy's description line). */
export function policyVerdicts(events: readonly EngineEvent[]): { policy: string; enforcementLevel: string; urn?: string; message: string }[] {
    return events
        .filter((e) => e.policyEvent)
        .map((e) => {
            const p = e.policyEvent;
            const message = String(p.message);
            return { policy: p.policyName, enforcementLevel: p.enforcementLevel, ...(p.resourceUrn ? { urn: p.resourceUrn } : {}), message: message.slice(message.indexOf("\n") + 1).trim() };
        });
}

/** The engine's error and warning diagnostics (debug and info lines left out). */
export function diagnostics(events: readonly EngineEvent[], severities: readonly string[] = ["error", "warning"]): { severity: string; urn: string; message: string }[] {
    return events
        .filter((e) => e.diagnosticEvent && severities.includes(e.diagnosticEvent.severity))
        .map((e) => ({ severity: e.diagnosticEvent.severity, urn: e.diagnosticEvent.urn ?? "", message: String(e.diagnosticEvent.message).trim() }));
}

/**
 * What the program asked the engine to register, from the SDK's debug line for each
 * RegisterResource call (the stack itself and providers left out).
 */
export function programRegistrations(events: readonly EngineEvent[]): { type: string; name: string }[] {
    const out: { type: string; name: string }[] = [];
    for (const e of events) {
        const m = e.diagnosticEvent?.severity === "debug" && /^Registering resource: t=([^,]+), name=([^,]+), custom=/.exec(String(e.diagnosticEvent.message));
        if (m && m[1] !== "pulumi:pulumi:Stack" && !m[1].startsWith("pulumi:providers:")) out.push({ type: m[1], name: m[2] });
    }
    return out;
}
