/**
 * Things said once (issue 11, item 6), held there: a second copy of any of them fails here.
 *  - `asRoot` (sudo for a non-root SSH user) and the 63-character Kubernetes name cut;
 *  - the reader of HAProxy's `show stat` CSV, shared by both PHP scripts that ask HAProxy how its
 *    servers are, and shipped in front of each;
 *  - the Debian package list, read by .ci/run and the pull-request workflow;
 *  - the shellcheck suite.
 */
import { strict as assert } from "assert";
import { readFileSync } from "fs";
import * as path from "path";
import { lbPoolCheckCommand } from "../../components/clusterOps/verification";
import { pfsenseCommand } from "../../components/loadBalancer/shared";
import { HAPROXY_STATS_LIB } from "../../components/shipping/phpBundle";
import { projectFiles } from "./importGraph";

const ROOT = path.resolve(__dirname, "..", "..");
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");
const tsFiles = projectFiles(ROOT, ["index.ts", "topology", "components", "policies", "tools", "bench", "tests", "toolchain"]);
const SELF = path.relative(ROOT, __filename).split(path.sep).join("/");

/** The files (other than this one) whose text matches `pattern`. */
function filesMatching(files: readonly string[], pattern: RegExp): string[] {
    return files.filter((f) => f !== SELF && pattern.test(read(f)));
}

describe("said once", () => {
    it("asRoot is defined once (components/kubeadm/options.ts)", () => {
        assert.deepEqual(filesMatching(tsFiles, /function asRoot\b|\basRoot\s*=\s*\(/), ["components/kubeadm/options.ts"]);
    });

    it("a Kubernetes name is cut to 63 characters in one place (topology/kubernetesNames.ts)", () => {
        assert.deepEqual(filesMatching(tsFiles, /\.slice\(0,\s*(63|KUBERNETES_NAME_MAX_LENGTH)\)/), ["topology/kubernetesNames.ts"]);
        assert.deepEqual(filesMatching(tsFiles, /length\s*[<>]=?\s*63\b/), []);
    });

    it("HAProxy's stats CSV is read by scripts/haproxy/stats.php alone, and both PHP scripts ship with it", () => {
        const php = ["scripts/pfsense/haproxy-reconcile.php", "scripts/cluster/lb-pool-check.php", `scripts/${HAPROXY_STATS_LIB}`];
        assert.deepEqual(php.filter((f) => /array_combine\(\$header|strpos\(\$line, '# '\)/.test(read(f))), [`scripts/${HAPROXY_STATS_LIB}`]);
        for (const script of php.slice(0, 2)) assert.match(read(script), /hacp_stat_servers\(/, script);
        const library = read(`scripts/${HAPROXY_STATS_LIB}`).replace(/^<\?php\n/, "");
        const gate = lbPoolCheckCommand({ kind: "haproxy", user: "ubuntu", socket: "/run/haproxy/admin.sock", backend: "apiserver_nodes", servers: ["k8s-master"], timeoutSeconds: 1 });
        const reconcile = pfsenseCommand("apply", "delete", { schema: "ha-control-plane/pfsense-haproxy/v1" });
        for (const [name, stdin] of [["the pool gate", gate.stdin], ["the pfSense reconcile", reconcile.stdin]] as const) {
            assert.ok(stdin.includes(library), `${name} ships the stats reader on stdin`);
            assert.ok(stdin.indexOf(library) < stdin.indexOf("hacp_stat_servers(", stdin.indexOf(library) + library.length), `${name}: the reader comes first`);
        }
    });

    it("the Debian packages are listed once (.ci/packages.txt), and both installers read that list", () => {
        const listed = read(".ci/packages.txt").split("\n").map((l) => l.replace(/#.*/, "").trim()).filter(Boolean);
        assert.ok(listed.length >= 10 && listed.includes("haproxy") && listed.includes("php-cli"), listed.join(" "));
        for (const installer of [".ci/run", ".github/workflows/pull-request.yml"]) {
            const text = read(installer);
            assert.match(text, /\.ci\/packages\.txt/, `${installer} reads the list`);
            const installs = text.split("\n").filter((l) => /apt-get install/.test(l));
            assert.ok(installs.length > 0, `${installer} installs packages`);
            for (const line of installs) {
                const named = listed.filter((p) => new RegExp(`(^|\\s)${p.replace(/[.+]/g, "\\$&")}(\\s|$)`).test(line));
                assert.deepEqual(named, [], `${installer} names packages itself: ${line.trim()}`);
            }
        }
    });

    it("one suite runs shellcheck (tests/scripts/shellcheck.test.ts)", () => {
        const tests = tsFiles.filter((f) => f.startsWith("tests/"));
        assert.deepEqual(filesMatching(tests, /spawnSync\(\s*"shellcheck"|spawn\(\s*"shellcheck"|execFileSync\(\s*"shellcheck"/), ["tests/scripts/shellcheck.test.ts"]);
    });
});
