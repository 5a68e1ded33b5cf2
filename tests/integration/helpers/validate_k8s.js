// Validates Kubernetes manifests offline against the API's own schemas (kubernetes-models),
// then checks what schemas cannot: probe and Service ports name declared container ports,
// and the grace period covers tend's shutdown delay plus kill timeout.
// Usage: node validate_k8s.js FILE.yaml...   Prints one line a problem; exit 1 if any.
const fs = require('fs');
const YAML = require('yaml');

const problems = [];
const models = {
  'apps/v1/Deployment': () => require('kubernetes-models/apps/v1/Deployment').Deployment,
  'v1/Service': () => require('kubernetes-models/v1/Service').Service,
};

function flag(args, name) {
  const at = (args || []).indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : undefined;
}

function checkPod(where, pod, services) {
  const declared = new Map();
  for (const container of pod.containers) {
    for (const port of container.ports || []) {
      declared.set(port.containerPort, container.name);
      if (port.name) declared.set(port.name, container.name);
    }
  }
  for (const container of pod.containers) {
    for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      const probe = container[kind];
      if (!probe) continue;
      const port = (probe.httpGet || probe.grpc || probe.tcpSocket || {}).port;
      if (port !== undefined && declared.get(port) !== container.name) {
        problems.push(`${where}: ${container.name}.${kind} port ${port} is not a port of ${container.name}`);
      }
    }
    // tend is the image's ENTRYPOINT: the container that does not override the command.
    if (container.command !== undefined) continue;
    const delay = flag(container.args, '--shutdown-delay') || 0;
    const kill = flag(container.args, '--kill-timeout') || 8000;
    const grace = pod.terminationGracePeriodSeconds === undefined ? 30 : pod.terminationGracePeriodSeconds;
    if (grace * 1000 <= delay + kill) {
      problems.push(`${where}: terminationGracePeriodSeconds ${grace} s does not cover ` +
                    `--shutdown-delay ${delay} ms + --kill-timeout ${kill} ms`);
    }
  }
  for (const service of services) {
    for (const port of service.spec.ports) {
      if (!declared.has(port.targetPort)) {
        problems.push(`Service ${service.metadata.name}: targetPort ${port.targetPort} is not a container port of ${where}`);
      }
    }
  }
}

const documents = process.argv.slice(2).flatMap((file) =>
  YAML.parseAllDocuments(fs.readFileSync(file, 'utf8')).map((doc) => ({file, object: doc.toJS()})));
for (const {file, object} of documents) {
  const model = models[`${object.apiVersion}/${object.kind}`];
  if (!model) {
    problems.push(`${file}: no model for ${object.apiVersion} ${object.kind}`);
    continue;
  }
  try {
    new (model())(object).validate();
  } catch (error) {
    problems.push(`${file}: ${object.kind} ${object.metadata && object.metadata.name}: ${error.message}`);
  }
}
const services = documents.map((d) => d.object).filter((o) => o.kind === 'Service');
for (const {object} of documents) {
  if (object.kind === 'Deployment') {
    const selected = services.filter((s) => Object.entries(s.spec.selector || {}).every(
        ([k, v]) => (object.spec.template.metadata.labels || {})[k] === v));
    checkPod(`Deployment ${object.metadata.name}`, object.spec.template.spec, selected);
  }
}
for (const problem of problems) console.log(problem);
process.exit(problems.length ? 1 : 0);
