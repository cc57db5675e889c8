/**
 * The architecture page and the runbooks stay true to the stack: every script they name exists,
 * and every step they run by name (`run_step HOST NAME [create|delete]`, `step NAME ...`) is a
 * command of the lab's plan with that action.
 */
import { strict as assert } from "assert";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { parse, stringify } from "yaml";
import { computePlan, PlannedResource, PROJECT_DIR } from "../../tools/planModel";

const DOCS = ["docs/architecture.md", "docs/runbook-add-master.md", "docs/runbook-remove-master.md", "docs/runbook-restore-etcd.md"];
const read = (doc: string) => readFileSync(path.join(PROJECT_DIR, doc), "utf8");

describe("docs: the architecture page and the add, remove and restore runbooks", function () {
    this.timeout(60_000);
    const steps = new Map<string, Map<string, PlannedResource>>();
    let dir: string | undefined;
    before(async () => {
        // The lab with phpIPAM configured, so the runbooks' ipam steps are in the plan too.
        dir = mkdtempSync(path.join(tmpdir(), "hacp-docs-"));
        const doc = parse(read("Pulumi.lab.yaml")) as { config: Record<string, unknown> };
        doc.config["ha-control-plane:ipam"] = { kind: "phpipam", url: "https://phpipam.lab.example/", appId: "hacp", token: "code", section: "K8s cluster" };
        const configFile = path.join(dir, "Pulumi.lab.yaml");
        writeFileSync(configFile, stringify(doc));
        for (const phase of ["3", "6"]) {
            const plan = await computePlan({ configFile, targetPhase: phase });
            steps.set(phase, new Map(plan.phases.flatMap((p) => p.resources).map((r) => [r.name, r])));
        }
    });
    after(() => dir && rmSync(dir, { recursive: true, force: true }));

    it("exist and name only scripts that exist", () => {
        for (const doc of DOCS) {
            const text = read(doc);
            const scripts = [...text.matchAll(/\bscripts\/[A-Za-z0-9/_.-]+\.(?:sh|php|yaml|py)\b/g)].map((m) => m[0]);
            for (const s of scripts) assert.ok(existsSync(path.join(PROJECT_DIR, s)), `${doc} names ${s}`);
        }
    });

    it("run each step by a name the plan has, with an action it has", () => {
        // The add runbook's fourth master stands for any new one: its steps are named like master-3's.
        const asLab = (name: string) => name.replace("k8s-master-4", "k8s-master-3");
        let checked = 0;
        for (const doc of DOCS) {
            for (const line of read(doc).split("\n")) {
                const m = /(?:(PHASE=(\d(?:\.5)?)) )?run_step ([a-z]+@[0-9.]+) ([a-z0-9-]+)(?: (create|delete))?/.exec(line);
                if (!m || line.includes("()")) continue;
                // (The host is the operator's to get right: a command's connection is secret in the plan.)
                const [, , phase = "3", , name, action = "create"] = m;
                const step = steps.get(phase)?.get(asLab(name));
                assert.ok(step, `${doc}: ${name} is a step of the plan at phase ${phase}`);
                assert.equal(typeof step.inputs[action], "string", `${doc}: ${name} has a ${action} command`);
                checked++;
            }
            for (const m of read(doc).matchAll(/\$\(step ([a-z0-9-]+) (create|delete|stdin)\)/g)) {
                assert.ok(steps.get("3")!.get(asLab(m[1])) ?? steps.get("6")!.get(asLab(m[1])), `${doc}: ${m[1]} is a step`);
            }
        }
        assert.ok(checked >= 10, `${checked} run_step lines checked`);
    });

    it("call restore-control-plane.sh with an action and options its usage declares for that action", () => {
        const script = read("scripts/etcd/restore-control-plane.sh");
        const header = script.split("\n").filter((l) => l.startsWith("#"));
        /** The usage line of an action and its continuation lines (indented further, starting with an option). */
        const usage = (action: string): string => {
            const start = header.findIndex((l) => l.startsWith(`#   restore-control-plane.sh ${action} `) || l === `#   restore-control-plane.sh ${action}`);
            assert.ok(start >= 0, `the usage declares ${action}`);
            const lines = [header[start]];
            for (const l of header.slice(start + 1)) {
                if (!/^#\s{20,}[[(-]/.test(l)) break;
                lines.push(l);
            }
            return lines.join(" ");
        };
        const calls = [...read("docs/runbook-restore-etcd.md").replace(/\\\n\s*/g, " ").matchAll(/restore-control-plane\.sh ([a-z]+)((?: --[a-z-]+(?: [^\s-][^\s]*)?)*)/g)];
        for (const [, action, rest] of calls) {
            const declared = usage(action);
            for (const [option] of rest.matchAll(/--[a-z-]+/g)) assert.ok(declared.includes(option), `runbook: restore-control-plane.sh ${action} ${option} is not in the script's usage: ${declared}`);
        }
        assert.deepEqual([...new Set(calls.map((c) => c[1]))].sort(), ["forget", "restore", "stop"]);
    });
});
