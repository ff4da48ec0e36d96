module github.com/patchlab/patchlab

go 1.26.8
