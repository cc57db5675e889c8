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
import { COMPONENT_TYPES, PHASE_IDS, PhaseId } from "@ha-control-plane/topology";
import { computePlan, PROJECT_DIR } from "../../tools/planModel";
import type { RecordedResource } from "../../tools/recorder";
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
        // A step that named the checkout's path would differ from one clone to the next (and a
        // stack that already ran would see an update when the checkout moves).
        if (typeof v === "string" && v.includes(PROJECT_DIR)) throw new Error(`the plan names the checkout's path ${PROJECT_DIR}: ${v.slice(0, 120)}`);
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

/**
 * How a recording reads as the stack before remote steps were components (issue 11): each
 * command under a RemoteStep (or LocalStep) that carries an alias is known by its alias URN and its step's
 * parent; the step components themselves are left out. A command under a step
 * without an alias keeps its new URN, so the pin fails on it, as the engine would replace it.
 */
export interface AliasView {
    /** New URN to the URN the golden files know. */
    readonly renamed: ReadonlyMap<string, string>;
    /** The RemoteStep and LocalStep components, not in the golden files. */
    readonly steps: ReadonlySet<string>;
}

/** "urn:pulumi:STACK::PROJECT" and the qualified type of a URN. */
function splitUrn(urn: string): [string, string] {
    const parts = urn.split("::");
    return [parts.slice(0, 2).join("::"), parts[2]];
}

export function aliasView(resources: readonly RecordedResource[]): AliasView {
    const isStep = (type: string) => type === COMPONENT_TYPES.remoteStep || type === COMPONENT_TYPES.localStep;
    const stepParent = new Map(resources.filter((r) => isStep(r.type)).map((r) => [r.urn, r.parent ?? ""]));
    const renamed = new Map<string, string>();
    for (const r of resources) {
        if (!r.parent || !stepParent.has(r.parent)) continue;
        // Only the alias that puts the command back under the step's own parent, same name and type.
        const [stackAndProject, parentType] = splitUrn(stepParent.get(r.parent)!);
        const before = `${stackAndProject}::${parentType}$${r.type}::${r.name}`;
        if (r.aliases.includes(before)) renamed.set(r.urn, before);
    }
    return { renamed, steps: new Set(stepParent.keys()) };
}

/**
 * A phase's resources with the commands now under a RemoteStep (by their old URNs) taken out of
 * the order and put last, by URN: they register later than before (after their step, whose own
 * registration waits on the SDK), so their place in the registration order moved while the
 * engine's order (the dependencies, compared as they were) did not. Everything else keeps its place.
 */
export function orderedApartFrom(phase: Pinned, migrated: ReadonlySet<string>): Pinned {
    const p = phase as { resources?: { urn: string }[] } & Record<string, Pinned>;
    if (!Array.isArray(p.resources) || migrated.size === 0) return phase;
    const kept = p.resources.filter((r) => !migrated.has(r.urn));
    const moved = p.resources.filter((r) => migrated.has(r.urn)).sort((a, b) => a.urn.localeCompare(b.urn));
    return { ...p, resources: [...kept, ...moved] as unknown as Pinned };
}

/** Every string that is a renamed URN replaced by the old one (URNs in dependencies, verdicts, the plan). */
function beforeSteps<T>(value: T, view: AliasView): T {
    const walk = (v: unknown): unknown => {
        if (typeof v === "string") return view.renamed.get(v) ?? v;
        if (Array.isArray(v)) return v.map(walk);
        // Plain objects only: a SecretValue stays itself and prints as [secret].
        if (v && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
        return v;
    };
    return walk(value) as T;
}

/** The pin of the lab stack at one target phase; long strings are added to `blobs`. */
export async function pinPhase(targetPhase: PhaseId, blobs: Map<string, string>, migrated?: Set<string>): Promise<Pinned> {
    const plan = await computePlan({ stack: "lab", targetPhase });
    // The plan's resources omit the options the recording holds; read them from a recording
    // of the same program and config.
    const recording = await recordLab(targetPhase);
    const byUrn = new Map(recording.resources.map((r) => [r.urn, r]));
    const view = aliasView(recording.resources);
    const { phases: allPhases, violations, ...rest } = plan;
    const old = (urn: string): string => view.renamed.get(urn) ?? urn;
    for (const urn of view.renamed.values()) migrated?.add(urn);
    // A RemoteStep's command registers after the step (the SDK waits for the parent's URN), so
    // later than the command did before: read it at its step's place, as the operator reads it.
    const phases = allPhases.map((phase) => {
        const commandOf = new Map(phase.resources.filter((r) => r.parent && view.steps.has(r.parent) && view.renamed.has(r.urn)).map((r) => [r.parent!, r]));
        const moved = new Set([...commandOf.values()].map((r) => r.urn));
        const resources = phase.resources.flatMap((r) => (view.steps.has(r.urn) ? (commandOf.has(r.urn) ? [commandOf.get(r.urn)!] : []) : moved.has(r.urn) ? [] : [r]));
        return { ...phase, resources };
    });
    return pinned(
        beforeSteps({
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
                            .map(([key, urns]) => [key, urns.map(old).sort()]),
                    );
                    const stepParent = r.parent && view.steps.has(r.parent) && view.renamed.has(r.urn) ? byUrn.get(r.parent)?.parent : r.parent;
                    return {
                        urn: r.urn,
                        ...(stepParent ? { parent: stepParent } : {}),
                        ...(recorded.provider ? { provider: recorded.provider } : {}),
                        dependencies: r.dependencies.map(old).sort(),
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
        }, view),
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
