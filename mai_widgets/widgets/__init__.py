"""The ipywidgets views: the register panel, status view, Images tab, SWR picker and the workbench."""
