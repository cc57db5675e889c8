/**
 * The behaviour pin: what the offline plan model says about the lab stack at every phase, in a
 * form a golden file can hold. Per target phase: each phase's resources in the plan's order
 * (URN, parent, provider, sorted dependencies, inputs with secrets as [secret], options), the
 * verdicts, the rest of the plan and the stack outputs. Same URNs and parents means a stack that
 * already ran sees no replacement.
 *
 * Long strings (the scripts shipped on stdin, the manifests) are held once, by digest, in
 * blobs.yaml, so the per-phase files stay readable and a changed script shows as a text diff.
 *
 * Regenerate (only for a change of behaviour you mean, and say so in the commit):
 *   npx tsx tests/plan/behaviourPin.ts
 */
import { createHash } from "crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "fs";
import * as path from "path";
import { parse, stringify } from "yaml";
import { PHASE_IDS, PhaseId } from "../../topology";
import { computePlan, PROJECT_DIR } from "../../tools/planModel";
import { recordLab } from "../helpers/program";

export const PIN_DIR = path.join(PROJECT_DIR, "tests", "fixtures", "behaviourPin");
export const BLOBS_FILE = path.join(PIN_DIR, "blobs.yaml");
/** Strings longer than this go to blobs.yaml. */
const BLOB_MIN_LENGTH = 200;

export type Pinned = null | boolean | number | string | Pinned[] | { [key: string]: Pinned };

export const pinFile = (phase: PhaseId): string => path.join(PIN_DIR, `phase-${phase.replace(".", "-")}.json`);

export const blobRef = (text: string): string => `[blob ${createHash("sha256").update(text).digest("hex").slice(0, 16)}]`;
const BLOB_REF = /^\[blob ([0-9a-f]{16})\]$/;
export const blobKeyOf = (ref: string): string | undefined => BLOB_REF.exec(ref)?.[1];

/** JSON round trip (secrets print as [secret]), long strings replaced by blob references. */
function pinned(value: unknown, blobs: Map<string, string>): Pinned {
    const plain = JSON.parse(JSON.stringify(value ?? null)) as Pinned;
    const walk = (v: Pinned): Pinned => {
        if (typeof v === "string" && v.length > BLOB_MIN_LENGTH) {
            const ref = blobRef(v);
            blobs.set(blobKeyOf(ref)!, v);
            return ref;
        }
        if (Array.isArray(v)) return v.map(walk);
        if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
        return v;
    };
    return walk(plain);
}

/** The pin of the lab stack at one target phase; long strings are added to `blobs`. */
export async function pinPhase(targetPhase: PhaseId, blobs: Map<string, string>): Promise<Pinned> {
    const plan = await computePlan({ stack: "lab", targetPhase });
    // The plan's resources omit the options the recording holds; read them from a recording
    // of the same program and config.
    const recording = await recordLab(targetPhase);
    const byUrn = new Map(recording.resources.map((r) => [r.urn, r]));
    const { phases, violations, ...rest } = plan;
    return pinned(
        {
            targetPhase,
            phases: phases.map((phase) => ({
                id: phase.id,
                title: phase.title,
                resources: phase.resources.map((r) => {
                    const recorded = byUrn.get(r.urn);
                    if (!recorded) throw new Error(`${r.urn} is in the plan but not in a second recording of the same program`);
                    const propertyDependencies = Object.fromEntries(
                        Object.entries(recorded.propertyDependencies)
                            .filter(([, urns]) => urns.length > 0)
                            .sort(([a], [b]) => a.localeCompare(b))
                            .map(([key, urns]) => [key, [...urns].sort()]),
                    );
                    return {
                        urn: r.urn,
                        ...(r.parent ? { parent: r.parent } : {}),
                        ...(recorded.provider ? { provider: recorded.provider } : {}),
                        dependencies: [...r.dependencies].sort(),
                        ...(Object.keys(propertyDependencies).length ? { propertyDependencies } : {}),
                        ...(recorded.protect ? { protect: true } : {}),
                        ...(recorded.ignoreChanges.length ? { ignoreChanges: [...recorded.ignoreChanges].sort() } : {}),
                        ...(recorded.deleteBeforeReplace ? { deleteBeforeReplace: true } : {}),
                        ...(recorded.additionalSecretOutputs.length ? { additionalSecretOutputs: [...recorded.additionalSecretOutputs].sort() } : {}),
                        inputs: r.inputs,
                        ...(recorded.outputs ? { outputs: recorded.outputs } : {}),
                    };
                }),
            })),
            // The order of the verdicts is the order the policies report them in.
            violations: violations.map((v) => ({ policy: v.policy, enforcementLevel: v.enforcementLevel, message: v.message, urn: v.urn ?? null, phase: v.phase ?? null })),
            plan: rest,
            stackOutputs: recording.outputs,
        },
        blobs,
    );
}

/**
 * What a golden file holds for phase k: its own resources (the same at every target phase from k
 * on; the test checks that) and what the plan says when k is the target.
 */
export interface PhasePin {
    readonly phase: Pinned;
    readonly atTarget: Pinned;
}

/** Splits one target phase's pin into each phase's resources and the target's own part. */
export function splitPin(pin: Pinned): { phases: Map<PhaseId, Pinned>; atTarget: Pinned } {
    const { phases, ...atTarget } = pin as { phases: { id: PhaseId }[] } & Record<string, Pinned>;
    return { phases: new Map(phases.map((p) => [p.id, p as unknown as Pinned])), atTarget };
}

/** Every phase's golden content, and the blobs they name. */
export async function pinAll(): Promise<{ pins: Map<PhaseId, PhasePin>; blobs: Map<string, string> }> {
    const blobs = new Map<string, string>();
    const pins = new Map<PhaseId, PhasePin>();
    for (const target of PHASE_IDS) {
        const { phases, atTarget } = splitPin(await pinPhase(target, blobs));
        for (const [id, phase] of phases) {
            const first = id === target ? undefined : pins.get(id);
            if (first && JSON.stringify(first.phase) !== JSON.stringify(phase)) {
                throw new Error(`phase ${id}'s resources at target phase ${target} differ from those at target ${id}: one golden file per phase cannot hold that`);
            }
        }
        pins.set(target, { phase: phases.get(target)!, atTarget });
    }
    return { pins, blobs };
}

export function readGolden(phase: PhaseId): PhasePin {
    return JSON.parse(readFileSync(pinFile(phase), "utf8")) as PhasePin;
}

export function readBlobs(): Record<string, string> {
    return (parse(readFileSync(BLOBS_FILE, "utf8")) ?? {}) as Record<string, string>;
}

async function update(): Promise<void> {
    const { pins, blobs } = await pinAll();
    rmSync(PIN_DIR, { recursive: true, force: true });
    mkdirSync(PIN_DIR, { recursive: true });
    for (const [id, pin] of pins) writeFileSync(pinFile(id), `${JSON.stringify(pin, null, 2)}\n`);
    const sorted = Object.fromEntries([...blobs.entries()].sort(([a], [b]) => a.localeCompare(b)));
    writeFileSync(BLOBS_FILE, stringify(sorted, { lineWidth: 0, blockQuote: "literal" }));
    process.stdout.write(`wrote ${pins.size} phase pins and ${blobs.size} blobs to ${path.relative(PROJECT_DIR, PIN_DIR)}\n`);
}

if (require.main === module) {
    update().then(
        () => process.exit(0),
        (err: unknown) => {
            process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
            process.exit(1);
        },
    );
}
