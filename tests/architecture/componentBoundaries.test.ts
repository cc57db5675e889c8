/**
 * Clear Pulumi boundaries (issue 11, item 5): every component shows its inputs in a preview (it
 * passes a plain, non-secret summary to `super`, never `{}`), reads no Pulumi config, and gets
 * its providers through its options (only the orchestrator creates providers).
 */
import { strict as assert } from "assert";
import { readFileSync } from "fs";
import * as path from "path";
import { COMPONENT_TYPES, isComponentType } from "@ha-control-plane/topology";
import { RecordedValue, SecretValue } from "../../tools/recorder";
import { recordLab } from "../helpers/program";
import { projectFiles } from "./importGraph";

const ROOT = path.resolve(__dirname, "..", "..");
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");
const componentFiles = projectFiles(ROOT, ["components"]);

/** A phpIPAM config like the lab's commented one, so IpamRegistration is registered too. */
const IPAM = { kind: "phpipam", url: "https://phpipam.example.lan/", appId: "hacontrolplane", section: "K8s cluster", token: "not-a-token" };

function containsSecret(value: RecordedValue | undefined): boolean {
    if (value instanceof SecretValue) return true;
    if (Array.isArray(value)) return value.some(containsSecret);
    if (value && typeof value === "object") return Object.values(value).some(containsSecret);
    return false;
}

describe("component boundaries: inputs shown, no config read, providers through options", function () {
    this.timeout(60_000);

    it("every component of the lab at phase 7 (with an ipam config) registers non-empty, non-secret inputs", async () => {
        const { resources } = await recordLab("7", (raw) => {
            raw.ipam = IPAM;
        });
        const components = resources.filter((r) => !r.custom && isComponentType(r.type));
        const types = new Set(components.map((r) => r.type));
        // Every component type the project has is in the recording, so none escapes the check.
        assert.deepEqual([...types].sort(), Object.values(COMPONENT_TYPES).sort(), "the recording misses a component type");
        const empty = components.filter((r) => Object.keys(r.inputs).length === 0).map((r) => `${r.type} ${r.name}`);
        assert.deepEqual(empty, [], "components that show no inputs in a preview");
        const secret = components.filter((r) => containsSecret(r.inputs)).map((r) => `${r.type} ${r.name}`);
        assert.deepEqual(secret, [], "components whose shown inputs hold a secret");
    });

    it("no component file passes {} to super", () => {
        const offenders = componentFiles.filter((f) => /\bsuper\(\s*[^,()]+,\s*[^,()]+,\s*\{\s*\}/.test(read(f)));
        assert.deepEqual(offenders, []);
    });

    it("only components/stackConfig.ts reads Pulumi config", () => {
        const readers = componentFiles.filter((f) => /\bnew\s+(pulumi\.)?Config\s*\(|pulumi\.runtime\.allConfig\b/.test(read(f)));
        assert.deepEqual(readers, ["components/stackConfig.ts"]);
    });

    it("only components/stack.ts creates providers (components take theirs from their options)", () => {
        const creators = componentFiles.filter((f) => /\bnew\s+[A-Za-z0-9_.]*\.Provider\s*\(/.test(read(f)));
        assert.deepEqual(creators, ["components/stack.ts"]);
    });
});
