"""Launch files, graph configuration, RViz configuration, the dexmv command line and the end-to-end
demo.
"""
