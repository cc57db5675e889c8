/**
 * The behaviour pin (tests/plan/behaviourPin.ts): the offline plan model for the lab stack at
 * every target phase against the golden files made from the code before the phase-layout
 * refactor (issue 11). The same URNs and parents in the same order, the same dependencies,
 * inputs and options, the same verdicts: a stack that already ran sees no replacement, and the
 * plan an operator reads is unchanged. Regenerate only for a change of behaviour you mean:
 *   npx tsx tests/plan/behaviourPin.ts
 */
import { strict as assert } from "assert";
import { PHASE_IDS, phasesUpTo, PhaseId } from "@ha-control-plane/topology";
import { recordLab } from "../helpers/program";
import { COMPONENT_TYPES } from "@ha-control-plane/topology";
import { aliasView, orderedApartFrom, blobKeyOf, blobRef, Pinned, pinPhase, readBlobs, readGolden, splitPin } from "./behaviourPin";

/** Up to `limit` differences between golden and actual, by path; changed blobs by their first changed line. */
function differences(golden: Pinned, actual: Pinned, blobs: Record<string, string>, actualBlobs: Map<string, string>, at = "", out: string[] = [], limit = 12): string[] {
    if (out.length >= limit) return out;
    if (JSON.stringify(golden) === JSON.stringify(actual)) return out;
    if (Array.isArray(golden) && Array.isArray(actual)) {
        // Resources and verdicts: name the entry by its URN where it has one.
        const label = (v: Pinned, i: number): string => (v && typeof v === "object" && !Array.isArray(v) && typeof v.urn === "string" ? v.urn.split("::").pop()! : String(i));
        for (let i = 0; i < Math.max(golden.length, actual.length); i++) {
            if (i >= golden.length) out.push(`${at}[${label(actual[i], i)}]: new, not in the golden file`);
            else if (i >= actual.length) out.push(`${at}[${label(golden[i], i)}]: in the golden file, now missing`);
            else differences(golden[i], actual[i], blobs, actualBlobs, `${at}[${label(golden[i], i)}]`, out, limit);
            if (out.length >= limit) break;
        }
        return out;
    }
    if (golden && actual && typeof golden === "object" && typeof actual === "object" && !Array.isArray(golden) && !Array.isArray(actual)) {
        for (const key of new Set([...Object.keys(golden), ...Object.keys(actual)])) {
            if (!(key in actual)) out.push(`${at}.${key}: in the golden file, now missing`);
            else if (!(key in golden)) out.push(`${at}.${key}: new, ${JSON.stringify(actual[key]).slice(0, 200)}`);
            else differences(golden[key], actual[key], blobs, actualBlobs, `${at}.${key}`, out, limit);
            if (out.length >= limit) break;
        }
        return out;
    }
    const goldenKey = typeof golden === "string" ? blobKeyOf(golden) : undefined;
    const actualKey = typeof actual === "string" ? blobKeyOf(actual) : undefined;
    if (goldenKey && actualKey) {
        const before = (blobs[goldenKey] ?? "").split("\n");
        const after = (actualBlobs.get(actualKey) ?? "").split("\n");
        const line = before.findIndex((l, i) => l !== after[i]);
        const n = line === -1 ? before.length : line;
        out.push(`${at}: text changed at line ${n + 1}:\n      was: ${JSON.stringify(before[n] ?? "(end)")}\n      now: ${JSON.stringify(after[n] ?? "(end)")}`);
        return out;
    }
    out.push(`${at}: was ${JSON.stringify(golden)?.slice(0, 300)}, now ${JSON.stringify(actual)?.slice(0, 300)}`);
    return out;
}

describe("behaviour pin: the lab's plan at every phase equals the golden files (tests/fixtures/behaviourPin)", function () {
    this.timeout(120_000);
    const blobs = readBlobs();

    it("every blob the golden files name is in blobs.yaml, under its own digest", () => {
        for (const [key, text] of Object.entries(blobs)) assert.equal(blobKeyOf(blobRef(text)), key, `blobs.yaml entry ${key} does not hash to its key`);
        for (const id of PHASE_IDS) {
            const refs = JSON.stringify(readGolden(id)).match(/\[blob [0-9a-f]{16}\]/g) ?? [];
            for (const ref of refs) assert.ok(blobs[blobKeyOf(ref)!] !== undefined, `${ref} of phase ${id} is not in blobs.yaml`);
        }
    });

    it("reads a command under a RemoteStep by its old URN only when it carries the alias to it", async () => {
        const { resources } = await recordLab("2");
        const steps = resources.filter((r) => r.type === COMPONENT_TYPES.remoteStep);
        assert.ok(steps.length > 0, "the lab registers no RemoteStep");
        const commands = resources.filter((r) => r.parent && steps.some((s) => s.urn === r.parent));
        assert.equal(commands.length, steps.length, "each RemoteStep has one child, its command");
        const view = aliasView(resources);
        for (const c of commands) {
            const step = steps.find((s) => s.urn === c.parent)!;
            const old = view.renamed.get(c.urn);
            assert.ok(old, `${c.urn} carries no alias to its old URN`);
            assert.equal(old, c.urn.replace(`$${COMPONENT_TYPES.remoteStep}$`, "$"), "the alias is the URN under the step's parent");
            assert.ok(old.startsWith(`${step.parent!.split("::").slice(0, 3).join("::")}$`), "the alias names the step's parent's type chain");
        }
        // The same recording without the aliases: nothing is renamed, so the pin would fail on every command.
        const withoutAliases = aliasView(resources.map((r) => ({ ...r, aliases: [] })));
        assert.equal(withoutAliases.renamed.size, 0);
    });

    for (const target of PHASE_IDS) {
        it(`at target phase ${target}: every phase's resources, the verdicts, the plan and the stack outputs`, async () => {
            const actualBlobs = new Map<string, string>();
            const migrated = new Set<string>();
            const { phases, atTarget } = splitPin(await pinPhase(target, actualBlobs, migrated));
            assert.deepEqual([...phases.keys()], phasesUpTo(target).map((p) => p.id));
            const found: string[] = [];
            for (const [id, phase] of phases) {
                for (const d of differences(orderedApartFrom(readGolden(id as PhaseId).phase, migrated), orderedApartFrom(phase, migrated), blobs, actualBlobs)) found.push(`phase ${id}${d}`);
            }
            for (const d of differences(readGolden(target).atTarget, atTarget, blobs, actualBlobs)) found.push(`target ${target}${d}`);
            if (found.length > 0) assert.fail(`the plan differs from the pin:\n  ${found.join("\n  ")}`);
        });
    }
});
