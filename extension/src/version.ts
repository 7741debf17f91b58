/** The ipywidgets module name and version the Python widgets ask for (`_model_module`...). */
export const MODULE_NAME = 'pellucid-jupyterlab';
export const MODULE_VERSION = '0.1.0';
