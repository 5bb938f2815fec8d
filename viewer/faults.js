// nestjs-snowplow event viewer: the fault plan control. Shows the plan in force with the requests
// each step took (`faults` messages of GET /micro/stream), sets one with POST /micro/faults (a
// step from the form, or a whole plan as JSON) and clears it with DELETE /micro/faults. A plan the
// collector refuses shows its 400 answer: the field at fault and why.
(function () {
  'use strict';

  const { h } = window.SnowplowViewer;
  const $ = (id) => document.getElementById(id);
  let state = { plan: null, applied: [] };
  let opened = false;

  /** One step in words: `status 503, Retry-After 5 · count 3 · match se_ac = "poison"`. */
  function describeStep(step) {
    const action = [];
    if (step.hang) action.push('hang');
    else if (step.reset) action.push('reset');
    else if (step.status !== undefined) action.push(`status ${step.status}`);
    if (step.retryAfter !== undefined) action.push(`Retry-After ${step.retryAfter}`);
    if (step.location !== undefined) action.push(`Location ${step.location}`);
    if (step.delayMs !== undefined) action.push(`delay ${step.delayMs} ms`);
    const parts = [action.join(', ')];
    if (step.count !== undefined) parts.push(`count ${step.count}`);
    if (step.probability !== undefined) parts.push(`probability ${step.probability}, seed ${step.seed ?? 1}`);
    if (step.count === undefined && step.probability === undefined) parts.push('every request');
    if (step.match) {
      const where = step.match.field !== undefined ? step.match.field : step.match.path;
      parts.push(`match ${where} = ${JSON.stringify(step.match.equals)}`);
    }
    return parts.join(' · ');
  }

  function onFaults(next) {
    state = next;
    const panel = $('faults');
    panel.hidden = false;
    // Opened by itself once, when the page finds a plan in force.
    if (!opened && state.plan) panel.open = true;
    opened = true;
    const steps = state.plan ? state.plan.steps : [];
    $('plan-none').hidden = steps.length > 0;
    $('plan-steps').replaceChildren(
      ...steps.map((step, index) => {
        const took = state.applied[index] || 0;
        return h(
          'li',
          { class: 'plan-step', 'data-step': index },
          h('span', { class: 'mono' }, describeStep(step)),
          h('span', { class: 'took' }, ` — took ${took} ${took === 1 ? 'request' : 'requests'}`),
        );
      }),
    );
    const summary =
      steps.length === 0 ? 'no fault plan' : `fault plan: ${steps.length} step${steps.length === 1 ? '' : 's'}`;
    $('faults-summary-plan').textContent = summary;
  }

  /** A number from an input, or undefined when empty; other text is sent as typed, for the collector to name. */
  function numberOf(input) {
    const text = input.value.trim();
    if (text === '') return undefined;
    const value = Number(text);
    return Number.isNaN(value) ? text : value;
  }

  /** The step the form describes. */
  function stepFromForm() {
    const step = {};
    const action = $('step-action').value;
    if (action === 'status') step.status = numberOf($('step-status'));
    if (action === 'hang') step.hang = true;
    if (action === 'reset') step.reset = true;
    const retryAfter = $('step-retry-after').value.trim();
    if (retryAfter !== '') step.retryAfter = /^\d+$/.test(retryAfter) ? Number(retryAfter) : retryAfter;
    const optional = { delayMs: 'step-delay', count: 'step-count', probability: 'step-probability', seed: 'step-seed' };
    for (const [key, id] of Object.entries(optional)) {
      const value = numberOf($(id));
      if (value !== undefined) step[key] = value;
    }
    const where = $('step-match-field').value.trim();
    if (where !== '') {
      const equals = $('step-match-equals').value;
      if (where.startsWith('/')) step.match = { path: where, equals: parseLoose(equals) };
      else step.match = { field: where, equals };
    }
    for (const key of Object.keys(step)) if (step[key] === undefined) delete step[key];
    return step;
  }

  /** A pointer match compares with ===: `3`, `true` or `null` as JSON, anything else as text. */
  function parseLoose(text) {
    try {
      const value = JSON.parse(text);
      return value === null || typeof value !== 'object' ? value : text;
    } catch {
      return text;
    }
  }

  function showError(text) {
    $('plan-error').textContent = text;
  }

  async function send(method, plan) {
    showError('');
    const init = { method };
    if (plan !== undefined) {
      init.headers = { 'Content-Type': 'application/json' };
      init.body = typeof plan === 'string' ? plan : JSON.stringify(plan);
    }
    let response;
    try {
      response = await fetch('/micro/faults', init);
    } catch (error) {
      return showError(`The collector did not answer: ${error.message}`);
    }
    const answer = await response.json().catch(() => null);
    if (response.ok) {
      if (answer && 'plan' in answer) onFaults(answer);
      return;
    }
    const field = answer && answer.field ? `${answer.field}: ` : '';
    const reason = answer && answer.error ? answer.error : response.statusText;
    showError(`Plan refused (${response.status}) ${field}${reason}`);
  }

  $('step-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void send('POST', { steps: [stepFromForm()] });
  });
  $('step-append').addEventListener('click', () => {
    const steps = state.plan ? state.plan.steps : [];
    void send('POST', { steps: [...steps, stepFromForm()] });
  });
  $('plan-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void send('POST', $('plan-json').value);
  });
  $('plan-clear').addEventListener('click', () => void send('DELETE'));
  // The inputs a fault kind does not use are disabled, so the form says what it will send.
  function syncForm() {
    const action = $('step-action').value;
    $('step-status').disabled = action !== 'status';
    $('step-retry-after').disabled = action !== 'status';
  }
  $('step-action').addEventListener('change', syncForm);
  syncForm();

  Object.assign(window.SnowplowViewer, { onFaults, describeStep });
})();
