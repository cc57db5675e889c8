/**
 * Stand-in executables for what cannot run here (kubeadm, kubectl against a live apiserver,
 * crictl, qm, systemctl, cloud-init, ...). Each stub records its arguments and answers from
 * rules the test writes: the first rule whose regex matches the joined arguments decides the
 * output, the exit code, and optionally a bash snippet to run (to create files kubeadm would
 * create, or generate a real certificate with openssl). `seq` gives successive answers.
 * Regexes are POSIX extended (bash's =~).
 * A call that no rule matches fails with exit 99, so an unexpected command shows up in the test.
 */
import { spawnSync } from "child_process";
import { accessSync, chmodSync, constants, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { SCRIPTS_DIR } from "../../../components/scriptFile";

/**
 * Debian's python3 (with python3-yaml, what .ci/run installs) when present: the interpreter the
 * masters have, and it starts faster than a version-manager shim.
 */
export const PYTHON3 = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

export interface StubAnswer {
    readonly stdout?: string;
    /** Output read from this file at call time (e.g. the "live" ConfigMap). */
    readonly stdoutFile?: string;
    readonly stderr?: string;
    readonly exit?: number;
    /** Run with bash; $@ are the stub's arguments, $STUB_DIR the stub directory. Its stdout is the stub's. */
    readonly run?: string;
}

export interface StubRule extends StubAnswer {
    readonly bin: string;
    /** POSIX extended regex on the arguments joined with single spaces; absent matches any. */
    readonly args?: string;
    /** Answers in turn; the last repeats. */
    readonly seq?: readonly StubAnswer[];
}

export interface StubCall {
    readonly bin: string;
    readonly argv: string[];
}

/**
 * The stub runner, in bash (a stub call costs a few milliseconds: the scripts make hundreds).
 * Calls are logged as arguments separated by \x1f, one call per \x1e-terminated record.
 * rules.sh (written by setRules) defines `stub_rule NAME JOINED`, printing the matching rule's
 * index; answers/<rule>/<n>/ holds the n-th answer's files (stdout, stderr, exit, run, stdoutFile).
 */
const RUNNER = String.raw`#!/usr/bin/env bash
name=$1
shift
{ printf '%s\x1f' "$name" "$@"; printf '\x1e'; } >>"$STUB_DIR/calls.log"
# shellcheck disable=SC1091
source "$STUB_DIR/rules.sh"
if ! rule=$(stub_rule "$name" "$*"); then
    echo "stub $name: no rule for: $*" >&2
    exit 99
fi
dir="$STUB_DIR/answers/$rule"
count=$(find "$dir" -mindepth 1 -maxdepth 1 -type d | wc -l)
n=0
if ((count > 1)); then
    n=$(cat "$dir/counter" 2>/dev/null || echo 0)
    echo $((n + 1)) >"$dir/counter"
    ((n < count)) || n=$((count - 1))
fi
answer="$dir/$n"
if [[ -f $answer/run ]]; then
    bash -c "$(cat "$answer/run")" "$name" "$@" || exit $?
fi
if [[ -f $answer/stdoutFile ]]; then cat "$(cat "$answer/stdoutFile")"; fi
if [[ -f $answer/stdout ]]; then cat "$answer/stdout"; fi
if [[ -f $answer/stderr ]]; then cat "$answer/stderr" >&2; fi
exit "$(cat "$answer/exit" 2>/dev/null || echo 0)"
`;

const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

export interface StubsOptions {
    /** Link the machine's python3 into the stub directory (default): false for a master without one. */
    readonly python3?: boolean;
}

export class Stubs {
    readonly dir: string;

    constructor(readonly bins: readonly string[], options: StubsOptions = {}) {
        this.dir = mkdtempSync(path.join(tmpdir(), "hacp-stubs-"));
        writeFileSync(path.join(this.dir, "runner.sh"), RUNNER);
        for (const bin of bins) {
            const file = path.join(this.dir, bin);
            writeFileSync(file, `#!/usr/bin/env bash\nexec bash "$STUB_DIR/runner.sh" ${bin} "$@"\n`);
            chmodSync(file, 0o755);
        }
        // The scripts' python3 is the same one.
        if (options.python3 !== false && PYTHON3 !== "python3" && !bins.includes("python3")) symlinkSync(PYTHON3, path.join(this.dir, "python3"));
        this.setRules([]);
    }

    setRules(rules: readonly StubRule[]): void {
        const answers = path.join(this.dir, "answers");
        rmSync(answers, { recursive: true, force: true });
        rmSync(path.join(this.dir, "calls.log"), { force: true });
        const lines = ["stub_rule() {"];
        rules.forEach((rule, i) => {
            const test = rule.args ? ` && $2 =~ $re` : "";
            lines.push(`    re=${quote(rule.args ?? "")}`);
            lines.push(`    if [[ $1 == ${quote(rule.bin)}${test} ]]; then echo ${i}; return 0; fi`);
            (rule.seq && rule.seq.length > 0 ? rule.seq : [rule]).forEach((answer, n) => {
                const dir = path.join(answers, String(i), String(n));
                mkdirSync(dir, { recursive: true });
                if (answer.stdout !== undefined) writeFileSync(path.join(dir, "stdout"), answer.stdout);
                if (answer.stderr !== undefined) writeFileSync(path.join(dir, "stderr"), answer.stderr);
                if (answer.exit !== undefined) writeFileSync(path.join(dir, "exit"), String(answer.exit));
                if (answer.run !== undefined) writeFileSync(path.join(dir, "run"), answer.run);
                if (answer.stdoutFile !== undefined) writeFileSync(path.join(dir, "stdoutFile"), answer.stdoutFile);
            });
        });
        lines.push("    return 1", "}");
        writeFileSync(path.join(this.dir, "rules.sh"), `${lines.join("\n")}\n`);
    }

    calls(bin?: string): StubCall[] {
        const file = path.join(this.dir, "calls.log");
        if (!existsSync(file)) return [];
        const all = readFileSync(file, "utf8").split("\x1e").filter(Boolean).map((record) => {
            const [name, ...argv] = record.split("\x1f").slice(0, -1);
            return { bin: name, argv };
        });
        return bin ? all.filter((c) => c.bin === bin) : all;
    }

    clearCalls(): void {
        rmSync(path.join(this.dir, "calls.log"), { force: true });
    }

    env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
        return { ...process.env, PATH: `${this.dir}:${process.env.PATH}`, STUB_DIR: this.dir, HACP_ALLOW_NON_ROOT: "1", HACP_POLL_SECONDS: "0.1", ...extra };
    }

    destroy(): void {
        rmSync(this.dir, { recursive: true, force: true });
    }
}

/**
 * A PATH directory for a master that lacks some commands: DIR (created) gets a link to every
 * other command on `searchPath`, the first of each name, as a PATH lookup finds it.
 */
export function pathWithout(dir: string, leftOut: (name: string) => boolean, searchPath = process.env.PATH ?? ""): string {
    mkdirSync(dir, { recursive: true });
    const linked = new Set<string>();
    for (const from of searchPath.split(":").filter(Boolean)) {
        let names: string[];
        try {
            names = readdirSync(from);
        } catch {
            continue; // a PATH entry that does not exist
        }
        for (const name of names) {
            if (linked.has(name) || leftOut(name)) continue;
            const file = path.join(from, name);
            try {
                if (!statSync(file).isFile()) continue;
                accessSync(file, constants.X_OK);
            } catch {
                continue; // a dangling link, or not executable
            }
            symlinkSync(file, path.join(dir, name));
            linked.add(name);
        }
    }
    return dir;
}

/**
 * A master without python3: `without` (under DIR) links every other command of this machine,
 * `pythonOnly` holds just python3, to add it back.
 */
export function masterWithoutPython3(dir: string): { without: string; pythonOnly: string } {
    const without = pathWithout(path.join(dir, "path-without-python3"), (name) => name.startsWith("python3"));
    const pythonOnly = path.join(dir, "python3-only");
    mkdirSync(pythonOnly, { recursive: true });
    symlinkSync(PYTHON3, path.join(pythonOnly, "python3"));
    return { without, pythonOnly };
}

/** What every etcd step says on a master without python3 (scripts/etcd/lib.sh). */
export const LACKS_PYTHON3 = /python3 is not installed on this master; the etcd steps \(pre-join check, quorum guard, member removal, join gate\) read etcd's member list with it\. Install it: apt-get install python3/;

export interface ScriptRun {
    readonly status: number | null;
    readonly stdout: string;
    readonly stderr: string;
}

/** Runs scripts/<relative> by hand, as an operator would: bash path args. */
export function runScript(relative: string, args: readonly string[], env: NodeJS.ProcessEnv, input?: string, timeoutMs = 30_000): ScriptRun {
    const run = spawnSync("bash", [path.join(SCRIPTS_DIR, relative), ...args], { env, encoding: "utf8", timeout: timeoutMs, ...(input !== undefined ? { input } : {}) });
    return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}
