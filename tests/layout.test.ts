/**
 * The code laid out by phase (issue 11): components/phases/registry.ts is the one list of the
 * phases, and what it names is there. Fails on a missing builder, component, script or test; on a
 * script or component file named by no phase (and not shared); on a test that names a phase's
 * script but is not among that phase's tests; on a script the lab ships in a phase that the
 * registry does not list for it; and on a README phase table other than the generated one.
 */
import { strict as assert } from "assert";
import { existsSync, readdirSync, readFileSync, statSync } from "fs";
import * as path from "path";
import { PHASE_REGISTRY, SHARED } from "../components/phases/registry";
import { isScriptId, SCRIPT_MANIFEST, ScriptEntry, scriptEntry, ScriptId } from "../components/scriptManifest";
import { COMPONENT_TYPES, PHASE_IDS } from "@ha-control-plane/topology";
import { groupByPhase, PROJECT_DIR } from "../tools/planModel";
import { phaseTable, README, readmeTable, TABLE_BEGIN, TABLE_END } from "../tools/phaseTable";
import type { RecordedValue } from "../tools/recorder";
import { labConfig, recordLab } from "./helpers/program";
import { loadTopology } from "@ha-control-plane/topology";
import { readProjectFile } from "../components/projectFiles";

const at = (file: string): string => path.join(PROJECT_DIR, file);

/** Files under `dir` (project-relative), recursively. */
function filesUnder(dir: string): string[] {
    const out: string[] = [];
    for (const name of readdirSync(at(dir))) {
        const file = `${dir}/${name}`;
        if (statSync(at(file)).isDirectory()) out.push(...filesUnder(file));
        else out.push(file);
    }
    return out.sort();
}

const phaseScripts = (e: (typeof PHASE_REGISTRY)[number]): string[] => [...e.scripts, ...(e.byHand ?? [])];
const TEST_FILE = /\.(test|cp|engine)\.ts$/;

describe("layout: the phase registry (components/phases/registry.ts) and what it names", function () {
    this.timeout(60_000);

    it("holds every phase of the table, once, in table order", () => {
        assert.deepEqual(
            PHASE_REGISTRY.map((e) => e.id),
            PHASE_IDS,
        );
    });

    it("names only files that exist: builders, components, scripts, tests, shared pieces", () => {
        const missing: string[] = [];
        const check = (file: string, what: string) => existsSync(at(file)) || missing.push(`${what}: ${file}`);
        for (const e of PHASE_REGISTRY) {
            check(e.builder, `phase ${e.id} builder`);
            for (const c of e.components) check(c, `phase ${e.id} component`);
            for (const s of phaseScripts(e)) check(`scripts/${s}`, `phase ${e.id} script`);
            for (const t of e.tests) check(t, `phase ${e.id} test`);
        }
        for (const c of SHARED.components) check(c, "shared component");
        for (const s of SHARED.scripts) check(`scripts/${s}`, "shared script");
        for (const t of SHARED.tests) check(t, "shared test");
        assert.deepEqual(missing, []);
    });

    it("each phase's builder is the function its builder file exports", () => {
        for (const e of PHASE_REGISTRY) {
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            const exported = Object.values(require(at(e.builder)) as Record<string, unknown>);
            assert.ok(exported.includes(e.build), `phase ${e.id}: ${e.builder} does not export the registered builder`);
        }
    });

    it("every builder file under components/phases/ is some phase's builder", () => {
        const builders = new Set(PHASE_REGISTRY.map((e) => e.builder));
        const strays = filesUnder("components/phases").filter((f) => !builders.has(f) && !(SHARED.components as readonly string[]).includes(f));
        assert.deepEqual(strays, []);
    });

    it("every script under scripts/ is named by a phase (or listed as a shared library)", () => {
        const named = new Set([...PHASE_REGISTRY.flatMap(phaseScripts), ...SHARED.scripts]);
        const unnamed = filesUnder("scripts")
            .map((f) => f.replace(/^scripts\//, ""))
            .filter((s) => !named.has(s));
        assert.deepEqual(unnamed, [], "scripts no phase names: add them to their phase in components/phases/registry.ts");
    });

    it("every script of the manifest (components/scriptManifest.ts) exists, with its libraries, and is a phase's script", () => {
        const named = new Set([...PHASE_REGISTRY.flatMap(phaseScripts), ...SHARED.scripts]);
        for (const [id, entry] of Object.entries(SCRIPT_MANIFEST) as [string, ScriptEntry][]) {
            for (const f of [id, ...(entry.libs ?? []), ...(entry.embed ?? []).filter((e): e is string => typeof e === "string")]) {
                assert.ok(existsSync(path.join(PROJECT_DIR, "scripts", f)), `the manifest names scripts/${f} (of ${id}), which does not exist`);
                assert.ok(named.has(f), `the manifest's ${f} (of ${id}) is named by no phase in components/phases/registry.ts`);
            }
        }
    });

    it("every remote command is under a RemoteStep, shipping a script of the manifest", async () => {
        const { resources } = await recordLab("7");
        const steps = resources.filter((r) => r.type === COMPONENT_TYPES.remoteStep);
        for (const s of steps) assert.ok(isScriptId(String(s.inputs.script)), `${s.urn} ships ${String(s.inputs.script)}, not in the manifest`);
        const stepUrns = new Set(steps.map((s) => s.urn));
        const outside = resources.filter((r) => r.type === "command:remote:Command" && !stepUrns.has(r.parent ?? "")).map((r) => r.name);
        assert.deepEqual(outside, [], "remote commands outside a RemoteStep");
    });

    it("every local command is under a LocalStep, running a local script of the manifest (with and without phpIPAM)", async () => {
        const ipam = { kind: "phpipam", url: "https://ipam.example", appId: "hacp", token: "t", section: "K8s cluster" };
        for (const [resources, withIpam] of [[(await recordLab("7")).resources, false], [(await recordLab("7", (raw) => (raw.ipam = ipam))).resources, true]] as const) {
            const steps = new Map(resources.filter((r) => r.type === COMPONENT_TYPES.localStep).map((s) => [s.urn, s]));
            const local = resources.filter((r) => r.type === "command:local:Command");
            assert.ok(local.length > 0, "the lab registers local commands");
            for (const c of local) {
                const step = steps.get(c.parent ?? "");
                assert.ok(step, `${c.urn} is not under a LocalStep`);
                assert.ok(isScriptId(String(step.inputs.script)) && scriptEntry(step.inputs.script as ScriptId).host === "local", `${c.urn} runs ${String(step.inputs.script)}, not a local script of the manifest`);
            }
            assert.equal(local.some((c) => c.name.startsWith("ipam-")), withIpam, "phpIPAM's commands are there exactly when it is configured");
        }
    });

    it("every component file is used by a phase (or listed as shared)", () => {
        const named = new Set([...PHASE_REGISTRY.flatMap((e) => [e.builder, ...e.components]), ...SHARED.components]);
        const unnamed = filesUnder("components").filter((f) => f.endsWith(".ts") && !named.has(f));
        assert.deepEqual(unnamed, [], "component files no phase names: add them to their phase in components/phases/registry.ts");
    });

    it("a test that names a phase's script is among that phase's tests (or the shared ones)", () => {
        const tests = [...filesUnder("tests").filter((f) => TEST_FILE.test(f))];
        const missing: string[] = [];
        for (const test of tests) {
            const text = readFileSync(at(test), "utf8");
            for (const e of PHASE_REGISTRY) {
                const named = phaseScripts(e).filter((s) => text.includes(path.basename(s)));
                if (named.length === 0) continue;
                // A script several phases ship is covered when any of them lists the test.
                const listed = (SHARED.tests as readonly string[]).includes(test) || PHASE_REGISTRY.some((o) => o.tests.includes(test) && phaseScripts(o).some((s) => named.includes(s)));
                if (!listed) missing.push(`${test} names ${named.join(", ")} (phase ${e.id}) but no phase shipping them lists it`);
            }
        }
        assert.deepEqual([...new Set(missing)], []);
    });

    it("every script the lab ships in a phase at phase 7 is one the registry names for that phase", async () => {
        // Read with the secret inputs revealed: some scripts travel in a secret stdin.
        const recording = await recordLab("7", undefined, { revealSecrets: true });
        const stack = labConfig("7");
        const topology = loadTopology(stack.raw, { project: stack.project, stack: stack.stack, readProjectFile });
        const strings = (v: RecordedValue, out: string[] = []): string[] => {
            if (typeof v === "string") out.push(v);
            else if (Array.isArray(v)) v.forEach((x) => strings(x, out));
            else if (v && typeof v === "object") Object.values(v).forEach((x) => strings(x as RecordedValue, out));
            return out;
        };
        // A script is shipped when its text (past the shebang) is in an input as it stands.
        const bodies = filesUnder("scripts").map((file) => {
            const text = readFileSync(at(file), "utf8");
            return { script: file.replace(/^scripts\//, ""), body: (text.startsWith("#!") ? text.slice(text.indexOf("\n") + 1) : text).trim() };
        });
        const unlisted: string[] = [];
        let found = 0;
        for (const phase of groupByPhase(topology, recording.resources)) {
            const entry = PHASE_REGISTRY.find((e) => e.id === phase.id)!;
            const inputs = phase.resources.flatMap((r) => strings(r.inputs as RecordedValue));
            for (const { script, body } of bodies) {
                if (!inputs.some((s) => s.includes(body))) continue;
                found++;
                if (!entry.scripts.includes(script) && !(SHARED.scripts as readonly string[]).includes(script)) unlisted.push(`phase ${phase.id} ships ${script}`);
            }
        }
        assert.ok(found > 20, `the check found only ${found} shipped scripts: it no longer sees them`);
        assert.deepEqual(unlisted, [], "add these scripts to their phase in components/phases/registry.ts");
    });

    it("the README's phase table is the one generated from the registry (npx tsx tools/phaseTable.ts --write)", () => {
        const table = readmeTable(readFileSync(README, "utf8"));
        assert.ok(table !== undefined, `README.md lacks the markers ${TABLE_BEGIN} ... ${TABLE_END}`);
        assert.equal(table, phaseTable());
    });
});
