/**
 * .github/workflows/pull-request.yml against what the issue asks of it; the files it names exist.
 * (GitHub runs it; here it is read as data.)
 */
import { strict as assert } from "assert";
import { existsSync, readFileSync } from "fs";
import * as path from "path";
import { parse } from "yaml";

const ROOT = path.resolve(__dirname, "../..");

interface Step {
    readonly uses?: string;
    readonly run?: string;
    readonly if?: string;
    readonly with?: Record<string, unknown>;
}
interface Job {
    readonly if?: string;
    readonly needs?: string;
    readonly steps: Step[];
}

describe(".github/workflows/pull-request.yml", () => {
    const doc = parse(readFileSync(path.join(ROOT, ".github/workflows/pull-request.yml"), "utf8")) as { on: Record<string, unknown>; jobs: Record<string, Job> };

    it("runs on pull requests: npm ci, npm test, the offline plan into the job summary and a PR comment, failing on a mandatory violation", () => {
        assert.ok("pull_request" in doc.on);
        const steps = doc.jobs.plan.steps;
        const runs = steps.map((s) => s.run ?? "").join("\n");
        assert.match(runs, /^npm ci$/m);
        assert.match(runs, /^npm test$/m);
        assert.match(runs, /npm run --silent plan -- --policy-config policies\/lab\.json --format markdown > plan\.md/);
        assert.match(runs, /GITHUB_STEP_SUMMARY/);
        assert.ok(steps.some((s) => s.uses?.startsWith("actions/github-script") && /createComment/.test(String(s.with?.script))));
        assert.match(runs, /exit "\$\{\{ steps\.plan\.outputs\.exit \}\}"/);
    });

    it("previews the lab with the pack through the official Pulumi action, only with a lab runner and its secrets", () => {
        const lab = doc.jobs["lab-preview"];
        assert.match(lab.if ?? "", /vars\.LAB_RUNNER == 'true'/);
        const action = lab.steps.find((s) => s.uses?.startsWith("pulumi/actions@"))!;
        assert.equal(action.with?.command, "preview");
        assert.equal(action.with?.policyPacks, "policies");
        assert.equal(action.with?.policyPackConfigs, "policies/lab.json");
        assert.match(action.if ?? "", /steps\.secrets\.outputs\.ok == 'true'/);
        for (const file of ["policies/PulumiPolicy.yaml", "policies/index.ts", "policies/lab.json"]) assert.ok(existsSync(path.join(ROOT, file)), file);
    });
    it("previews with the real CLI from pulumi/actions, at the pinned version, on a throwaway local stack with placeholder secrets", () => {
        const job = doc.jobs["engine-preview"] as Job & { env?: Record<string, string> };
        const pins = JSON.parse(readFileSync(path.join(ROOT, "toolchain/pins.json"), "utf8"));
        const action = job.steps.find((s) => s.uses?.startsWith("pulumi/actions"));
        assert.equal(action?.with?.["pulumi-version"], pins.pulumi.cli);
        assert.match(String(job.env?.PULUMI_BACKEND_URL), /^file:\/\//);
        const runs = job.steps.map((s) => s.run ?? "").join("\n");
        for (const key of ["proxmox.apiToken", "ssh.privateKey", "dns.tsigSecret", "kubernetesAccess.kubeconfig"]) assert.match(runs, new RegExp(`config set --stack pr --secret --path ${key.replace(".", "\\.")} `));
        assert.match(runs, /pulumi preview --stack pr --policy-pack policies --policy-pack-config policies\/lab\.json/);
    });
});
