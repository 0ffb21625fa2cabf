"""Run each query of a file as an instant query (t=3607.5s) and a range query
(1801.3s..7001.3s, step 60s) against two Prometheus-compatible APIs and report the
answers that differ (labels exactly, values within 1e-9 relative, NaN = NaN).

  diff.py QUERIES URL_A URL_B
"""
import json, math, sys, urllib.parse, urllib.request
A, B = sys.argv[2], sys.argv[3]
def q(base, path, params):
    data=urllib.parse.urlencode(params).encode()
    try:
        with urllib.request.urlopen(base+path, data=data, timeout=30) as r: return json.load(r)
    except urllib.error.HTTPError as e: return json.load(e)
def feq(a,b):
    if a==b: return True
    fa,fb=float(a),float(b)
    if math.isnan(fa) and math.isnan(fb): return True
    if fa==fb: return True
    return abs(fa-fb) <= 1e-9*max(abs(fa),abs(fb))
def norm(res):
    if res.get("status")!="success": return ("error", res.get("errorType"))
    d=res["data"]; t=d["resultType"]
    if t in ("scalar","string"): return (t, [d["result"]])
    out={}
    for s in d["result"]:
        k=json.dumps(s["metric"],sort_keys=True)
        out[k]= [s["value"]] if "value" in s else s["values"]
    return (t,out)
def cmp(x,y):
    if x[0]!=y[0]: return "type %s vs %s"%(x[0],y[0])
    if x[0]=="error": return None if x[1]==y[1] else "errtype %s vs %s"%x[1:]+y[1:]
    if x[0] in ("scalar","string"):
        a,b=x[1][0],y[1][0]
        return None if a[0]==b[0] and feq(a[1],b[1]) else "scalar %s vs %s"%(a,b)
    if set(x[1])!=set(y[1]): return "labels differ: only A %s only B %s"%(list(set(x[1])-set(y[1]))[:3], list(set(y[1])-set(x[1]))[:3])
    for k in x[1]:
        pa,pb=x[1][k],y[1][k]
        if len(pa)!=len(pb): return "%s: %d vs %d points"%(k,len(pa),len(pb))
        for a,b in zip(pa,pb):
            if a[0]!=b[0] or not feq(a[1],b[1]): return "%s: %s vs %s"%(k,a,b)
    return None
fails=0; total=0
for line in open(sys.argv[1]):
    expr=line.strip()
    if not expr or expr.startswith("#"): continue
    for kind,params,path in (("instant",{"query":expr,"time":"3607.5"},"/api/v1/query"),
                             ("range",{"query":expr,"start":"1801.3","end":"7001.3","step":"60"},"/api/v1/query_range")):
        total+=1
        ra=q(A,path,params); rb=q(B,path,params)
        d=cmp(norm(ra),norm(rb))
        if d:
            fails+=1
            print("DIFF %s %s: %s"%(kind,expr,d))
            if norm(ra)[0]=="error" or norm(rb)[0]=="error": print("   A:",ra.get("error"),"B:",rb.get("error"))
print("%d/%d differ"%(fails,total))
