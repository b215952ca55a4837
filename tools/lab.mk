# `make lab`: open the notebooks in JupyterLab on the project's own kernel.
# Meant to be included by the Makefile (`include tools/lab.mk`), which defines VENV, BIN and the `install` target.
# JupyterLab 4 draws ipywidgets only when jupyterlab_widgets is installed in the environment that runs Lab, so both go into the venv
# (versions from constraints.txt). The venv is registered as the kernel `companion`: inside the venv by default, so only this Lab sees it;
# `make lab KERNEL_AT=--user` registers it for every Lab of this user (a Lab installed elsewhere can then pick "Python (companion)").
KERNEL_AT ?= --prefix $(VENV)
LAB_ARGS ?=

.PHONY: lab lab-kernel

$(BIN)/.lab: $(BIN)/.installed constraints.txt
	@$(BIN)/python -c "import jupyterlab, jupyterlab_widgets" 2>/dev/null || \
	  { echo "installing JupyterLab and its widget front end into $(VENV)"; $(BIN)/python -m pip install -q -c constraints.txt jupyterlab jupyterlab_widgets; }
	@touch $@

lab-kernel: $(BIN)/.lab
	$(BIN)/python -m ipykernel install $(KERNEL_AT) --name companion --display-name "Python (companion)"

lab: lab-kernel
	$(BIN)/jupyter lab --notebook-dir=nbs $$([ "$$(id -u)" = 0 ] && echo --allow-root) $(LAB_ARGS)
