# Makefile targets for a config repo (services/ + environments/): copy this file into the repo as
# `gitops.mk` and `include gitops.mk` from its Makefile, or use it as the Makefile itself.
#
#   make render     render every environment into $(OUT)
#   make check      fail (exit 1, with a diff) when $(OUT) is not what the specs produce: for CI
#   make validate   schemas and cross-object rules over $(OUT)
#   make diff       what a render would change, per environment and service
#   make analysis-test  the analysis tests of analysis-tests/ (exit 1 on a case that misses its phase)
#
# GITOPS_GEN is the command (e.g. `.venv/bin/gitops-gen`); VALIDATOR is auto, kubeconform or builtin.
GITOPS_GEN ?= gitops-gen
CONFIG     ?= .
OUT        ?= $(CONFIG)/rendered
VALIDATOR  ?= auto

.PHONY: render check validate diff analysis-test

render:
	$(GITOPS_GEN) render --config $(CONFIG) --out $(OUT) --validator $(VALIDATOR)

check:
	$(GITOPS_GEN) render --check --config $(CONFIG) --out $(OUT) --validator $(VALIDATOR)

validate:
	$(GITOPS_GEN) validate --config $(CONFIG) --validator $(VALIDATOR) $(OUT)

diff:
	$(GITOPS_GEN) diff --config $(CONFIG) --out $(OUT)

analysis-test:
	$(GITOPS_GEN) test --config $(CONFIG)
